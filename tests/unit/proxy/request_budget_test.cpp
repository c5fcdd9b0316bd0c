#include <priava_tokend/proxy/request_budget.hpp>

#include <gtest/gtest.h>

#include <map>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using clock = request_budget::clock;

const clock::time_point start = clock::time_point{} + 1000h;

budget_limits small() {
    budget_limits l;
    l.budget = 3;
    l.window = 10s;
    l.max_concurrent = 2;
    l.max_queued = 5;
    return l;
}

TEST(RequestBudget, GrantsUpToTheConcurrencyLimit) {
    request_budget b{small()};
    const auto t1 = b.arrive("app", start);
    const auto t2 = b.arrive("app", start);
    const auto t3 = b.arrive("app", start);
    EXPECT_EQ(b.grant(start), (std::vector{*t1, *t2}));
    EXPECT_EQ(b.next_grant(start), clock::time_point::max()) << "only a finish frees a slot";
    b.finished(*t1);
    EXPECT_EQ(b.grant(start), (std::vector{*t3}));
    EXPECT_EQ(b.queued(), 0u);
}

TEST(RequestBudget, NeverSendsMoreThanTheBudgetInAnySlidingWindow) {
    request_budget b{small()};
    std::vector<clock::time_point> sent;
    auto now = start;
    for (int i = 0; i < 9; ++i) {
        const auto t = b.arrive("app", now);
        while (b.grant(now).empty()) {
            now = b.next_grant(now);
        }
        sent.push_back(now);
        b.finished(*t);
        now += 1s;
    }
    for (std::size_t i = 0; i + 3 < sent.size(); ++i) {
        EXPECT_GE(sent[i + 3] - sent[i], 10s) << "four sends within one window at " << i;
    }
    EXPECT_EQ(sent[3] - sent[0], 10s) << "and not later than it must";
}

TEST(RequestBudget, ServesClientsRoundRobin) {
    budget_limits l = small();
    l.max_concurrent = 1;
    l.budget = 100;
    l.max_queued = 100;
    request_budget b{l};
    std::map<request_budget::ticket, std::string> owner;
    for (int i = 0; i < 5; ++i) {
        owner[*b.arrive("busy", start)] = "busy";
    }
    owner[*b.arrive("quiet", start)] = "quiet";
    std::vector<std::string> order;
    while (b.queued() > 0) {
        const auto granted = b.grant(start);
        ASSERT_EQ(granted.size(), 1u);
        order.push_back(owner[granted[0]]);
        b.finished(granted[0]);
    }
    EXPECT_EQ(order[0], "busy");
    EXPECT_EQ(order[1], "quiet") << "the quiet client waits for one request, not five";
}

TEST(RequestBudget, TokenRequestsGoFirst) {
    request_budget b{small()};
    const auto app = b.arrive("app", start);
    const auto token = b.arrive("", start, true);
    const auto granted = b.grant(start);
    ASSERT_EQ(granted.size(), 2u);
    EXPECT_EQ(granted[0], *token);
    EXPECT_EQ(granted[1], *app);
}

TEST(RequestBudget, ATokenRequestTakesNoConcurrencySlot) {
    request_budget b{small()};
    const auto a1 = b.arrive("app", start);
    const auto a2 = b.arrive("app", start);
    ASSERT_EQ(b.grant(start).size(), 2u) << "both slots taken";
    const auto token = b.arrive("", start, true);
    EXPECT_EQ(b.next_grant(start), start) << "the token request need not wait for a slot";
    EXPECT_EQ(b.grant(start), (std::vector{*token}));
    EXPECT_EQ(b.in_flight(), 2u);
    EXPECT_EQ(b.in_window(start), 3u) << "but it counts in the window";
    b.finished(*a1);
    b.finished(*a2);
    EXPECT_EQ(b.in_flight(), 0u);
}

TEST(RequestBudget, ARequestSentAgainGoesBeforeTheClientsButAfterTokenRequests) {
    budget_limits l = small();
    l.max_concurrent = 5;
    l.max_queued = 1;
    request_budget b{l};
    const auto app = b.arrive("app", start);
    const auto again = b.arrive_again(); // beyond max_queued: never refused
    const auto token = b.arrive("", start, true);
    EXPECT_EQ(b.queued(), 3u);
    EXPECT_EQ(b.grant(start), (std::vector{*token, again, *app}));
}

TEST(RequestBudget, RefusesBeyondMaxQueuedButNeverATokenRequest) {
    request_budget b{small()};
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(b.arrive("app", start));
    }
    EXPECT_FALSE(b.arrive("other", start));
    EXPECT_TRUE(b.arrive("", start, true));
}

TEST(RequestBudget, A429PausesEverySendAndRequeuesTheRequestAtTheHead) {
    request_budget b{small()};
    const auto first = b.arrive("a", start);
    ASSERT_EQ(b.grant(start).size(), 1u);
    const auto second = b.arrive("b", start);
    b.rate_limited(*first, start, start + 4s);
    EXPECT_TRUE(b.grant(start + 3s).empty()) << "paused";
    EXPECT_EQ(b.paused_until(start), start + 4s);
    EXPECT_EQ(b.next_grant(start), start + 4s);
    EXPECT_EQ(b.grant(start + 4s), (std::vector{*first, *second}))
        << "the request that got the 429 goes first";
}

TEST(RequestBudget, ThePauseIsClampedBetweenASecondAndTheWindow) {
    request_budget b{small()};
    const auto a = b.arrive("a", start);
    b.grant(start);
    b.rate_limited(*a, start, start - 1h); // in the past
    EXPECT_EQ(b.paused_until(start), start + 1s);
    b.grant(start + 1s);
    b.rate_limited(*a, start + 1s, start + 24h); // a day ahead
    EXPECT_EQ(b.paused_until(start + 1s), start + 1s + 10s);
}

TEST(RequestBudget, AWaitingRequestCanLeave) {
    budget_limits l = small();
    l.max_concurrent = 0;
    request_budget b{l};
    const auto t = b.arrive("a", start);
    EXPECT_TRUE(b.waiting(*t));
    b.leave(*t);
    EXPECT_FALSE(b.waiting(*t));
    EXPECT_EQ(b.queued(), 0u);
}

TEST(RequestBudget, RetryAfterSaysWhenASlotComes) {
    request_budget b{small()};
    for (int i = 0; i < 3; ++i) {
        const auto t = b.arrive("a", start + std::chrono::seconds{i});
        b.grant(start + std::chrono::seconds{i});
        b.finished(*t);
    }
    EXPECT_EQ(b.in_window(start + 2s), 3u);
    EXPECT_EQ(b.retry_after(start + 2s), 8s) << "the first send leaves the window at 10 s";
    EXPECT_EQ(b.retry_after(start + 20s), 1s);
}

} // namespace
} // namespace priava_tokend
