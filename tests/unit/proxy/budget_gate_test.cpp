#include <priava_tokend/proxy/budget_gate.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <optional>

#include <sys/socket.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using clock = budget_gate::clock;
using verdict = budget_gate::verdict;

/// Far enough that no test waits for it: every wait here ends by an event.
const auto never = clock::now() + 1h;

budget_limits limits(std::size_t budget, std::size_t concurrent, std::size_t queued = 10) {
    budget_limits l;
    l.budget = budget;
    l.window = 1h;
    l.max_concurrent = concurrent;
    l.max_queued = queued;
    return l;
}

/// Runs what is ready, without waiting: the gate decides at once on every event.
void settle(net::io_context& io) {
    io.restart();
    io.poll();
}

/// Runs until `done`, each handler as it becomes ready (an event from the kernel), at most 5 s.
template <class Done>
void run_until(net::io_context& io, Done done) {
    io.restart();
    while (!done() && io.run_one_for(5s) > 0) {
    }
}

/// Runs `enter` as a coroutine; its admission once it ends.
struct entering {
    std::optional<budget_gate::admission> result;
    void start(net::io_context& io, budget_gate& gate, std::string client, int fd = -1) {
        net::co_spawn(
            io,
            [&, client, fd]() -> net::awaitable<void> {
                result = co_await gate.enter(client, never, fd);
            },
            [](const std::exception_ptr& e) {
                if (e) {
                    std::rethrow_exception(e);
                }
            });
    }
};

TEST(BudgetGate, GrantsAtOnceWhenTheBudgetHasRoom) {
    net::io_context io;
    budget_gate gate(io.get_executor(), limits(5, 2));
    entering a;
    a.start(io, gate, "app");
    settle(io);
    ASSERT_TRUE(a.result);
    EXPECT_EQ(a.result->result, verdict::granted);
    EXPECT_EQ(gate.budget().in_flight(), 1u);
}

TEST(BudgetGate, AFinishWakesTheNextWaiterInTurn) {
    net::io_context io;
    budget_gate gate(io.get_executor(), limits(5, 1));
    entering first, second;
    first.start(io, gate, "a");
    second.start(io, gate, "b");
    settle(io); // nothing more can happen until a finish
    ASSERT_TRUE(first.result);
    EXPECT_FALSE(second.result) << "max_concurrent is 1";
    EXPECT_EQ(gate.budget().queued(), 1u);
    gate.finished(first.result->id);
    settle(io);
    ASSERT_TRUE(second.result);
    EXPECT_EQ(second.result->result, verdict::granted);
}

TEST(BudgetGate, BeyondMaxQueuedTheAnswerIsImmediate) {
    net::io_context io;
    budget_gate gate(io.get_executor(), limits(5, 0, 1));
    entering waiting, refused;
    waiting.start(io, gate, "a");
    refused.start(io, gate, "b");
    settle(io);
    ASSERT_TRUE(refused.result);
    EXPECT_EQ(refused.result->result, verdict::queue_full);
    EXPECT_FALSE(waiting.result);
    gate.close();
    settle(io);
    ASSERT_TRUE(waiting.result);
    EXPECT_EQ(waiting.result->result, verdict::timed_out) << "shutdown ends every wait";
}

TEST(BudgetGate, AClientHangingUpLeavesTheQueueAndSpendsNothing) {
    net::io_context io;
    budget_gate gate(io.get_executor(), limits(5, 0));
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    entering a;
    a.start(io, gate, "app", pair[0]);
    settle(io);
    EXPECT_FALSE(a.result);
    EXPECT_EQ(gate.budget().queued(), 1u);
    ::close(pair[1]); // the app hangs up
    run_until(io, [&] { return a.result.has_value(); });
    ASSERT_TRUE(a.result);
    EXPECT_EQ(a.result->result, verdict::client_left);
    EXPECT_EQ(gate.budget().queued(), 0u);
    EXPECT_EQ(gate.budget().in_window(clock::now()), 0u);
    ::close(pair[0]);
}

TEST(BudgetGate, ARequestSentAgainIsGrantedBeforeNewArrivals) {
    net::io_context io;
    budget_gate gate(io.get_executor(), limits(5, 1));
    entering first, waiting;
    first.start(io, gate, "a");
    settle(io);
    waiting.start(io, gate, "b");
    settle(io);
    const auto again = gate.again();
    gate.finished(first.result->id);
    std::optional<budget_gate::admission> retried;
    net::co_spawn(
        io, [&]() -> net::awaitable<void> { retried = co_await gate.wait(again, never); },
        [](const std::exception_ptr&) {});
    settle(io);
    ASSERT_TRUE(retried);
    EXPECT_EQ(retried->result, verdict::granted);
    EXPECT_FALSE(waiting.result) << "b waits for the slot the retry took";
    gate.close();
    settle(io);
}

} // namespace
} // namespace priava_tokend
