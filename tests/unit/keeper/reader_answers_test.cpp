#include "keeper_fixture.hpp"

#include <priava_tokend/keeper/reader_answers.hpp>

namespace priava_tokend::testing {
namespace {

using keeper_do::request_token;

using ReaderAnswers = KeeperTest;

/// More than the five hours left an hour after the start, less than a token's six.
constexpr std::chrono::seconds long_job = 5h + 30min;

TEST_F(ReaderAnswers, NoTokenYetIsRefusedWithARetryAfter) {
    fsm.start_with_code(secret{"code"});
    const auto a = current_answer(fsm);
    EXPECT_EQ(a.why, refusal::no_token);
    EXPECT_EQ(a.retry_after, 1s) << "a request is in flight";
}

TEST_F(ReaderAnswers, AUsableTokenIsAnsweredAtOnce) {
    start();
    const auto a = current_answer(fsm);
    ASSERT_NE(a.token, nullptr);
    EXPECT_EQ(a.token->generation, 1u);
    EXPECT_EQ(current_answer(fsm, 7h).why, refusal::lifetime_too_short);
}

TEST_F(ReaderAnswers, AMinTtlReaderStartsOneRefreshAndGetsItsToken) {
    start();
    clock.advance(1h);
    auto first = fsm.reader_with_min_ttl(long_job);
    ASSERT_FALSE(first.answer);
    EXPECT_EQ(requested(first.actions), "refresh-1");
    auto second = fsm.reader_with_min_ttl(long_job);
    EXPECT_EQ(find<request_token>(second.actions), nullptr) << "joins the refresh in flight";
    EXPECT_FALSE(min_ttl_answer(fsm, first.waiting, long_job, false));

    succeed("2");
    for (const auto& t : {first.waiting, second.waiting}) {
        const auto a = min_ttl_answer(fsm, t, long_job, false);
        ASSERT_TRUE(a);
        ASSERT_NE(a->token, nullptr);
        EXPECT_EQ(a->token->generation, 2u);
    }
}

TEST_F(ReaderAnswers, AMinTtlBeyondTheLifetimeIsTooShortAndNotRefreshedTwice) {
    start();
    auto a = fsm.reader_with_min_ttl(8h);
    ASSERT_FALSE(a.answer);
    succeed("2");
    const auto answer = min_ttl_answer(fsm, a.waiting, 8h, false);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->why, refusal::lifetime_too_short);
    // Within 10 s of that refresh, another reader is told so without a request.
    clock.advance(9s);
    const auto again = fsm.reader_with_min_ttl(8h);
    ASSERT_TRUE(again.answer);
    EXPECT_EQ(again.answer->why, refusal::lifetime_too_short);
    EXPECT_EQ(find<request_token>(again.actions), nullptr);
}

TEST_F(ReaderAnswers, AMinTtlReaderWhoseRefreshFailsIsToldWhy) {
    start();
    clock.advance(1h);
    auto a = fsm.reader_with_min_ttl(long_job);
    fsm.token_response(transient());
    const auto answer = min_ttl_answer(fsm, a.waiting, long_job, false);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->why, refusal::refresh_failed);
    EXPECT_NE(answer->detail.find("connection refused"), std::string::npos);
}

TEST_F(ReaderAnswers, AReaderWhoseDeadlinePassesTimesOut) {
    start();
    clock.advance(1h);
    auto a = fsm.reader_with_min_ttl(long_job);
    const auto answer = min_ttl_answer(fsm, a.waiting, long_job, true);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->why, refusal::timed_out);
}

TEST_F(ReaderAnswers, ForcedRefreshesAreCoalescedIntoOneRequest) {
    start();
    std::vector<keeper_fsm::ticket> waiting;
    std::size_t requests = 0;
    for (int i = 0; i < 3; ++i) {
        auto a = fsm.forced_refresh();
        ASSERT_FALSE(a.answer);
        requests += count<request_token>(a.actions);
        waiting.push_back(a.waiting);
    }
    EXPECT_EQ(requests, 1u);
    succeed("2");
    for (const auto& t : waiting) {
        EXPECT_EQ(forced_refresh_answer(fsm, t, false)->token->generation, 2u);
    }
}

TEST_F(ReaderAnswers, AForcedRefreshWithinTenSecondsOfOneReusesIt) {
    start();
    fsm.forced_refresh();
    succeed("2");
    clock.advance(9s);
    const auto reused = fsm.forced_refresh();
    ASSERT_TRUE(reused.answer);
    EXPECT_EQ(reused.answer->token->generation, 2u);
    EXPECT_EQ(find<request_token>(reused.actions), nullptr);
    clock.advance(2s);
    const auto fresh = fsm.forced_refresh();
    EXPECT_FALSE(fresh.answer);
    EXPECT_EQ(requested(fresh.actions), "refresh-2");
}

TEST_F(ReaderAnswers, AForcedRefreshThatIsRejectedAnswersReauthRequired) {
    start();
    auto a = fsm.forced_refresh();
    fsm.token_response(rejected());
    const auto answer = forced_refresh_answer(fsm, a.waiting, false);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->why, refusal::reauth_required);
    EXPECT_EQ(answer->retry_after, 60s);
    EXPECT_NE(answer->detail.find("invalid_grant"), std::string::npos);
}

TEST_F(ReaderAnswers, ADeadCredentialServesItsTokenUntilSpentThenSaysSo) {
    start();
    until_refresh();
    fsm.token_response(rejected());
    EXPECT_NE(current_answer(fsm).token, nullptr);
    clock.advance(2h);
    EXPECT_EQ(current_answer(fsm).why, refusal::reauth_required);
}

TEST_F(ReaderAnswers, ALongPollIsAnsweredByTheNextGeneration) {
    start();
    EXPECT_FALSE(newer_than_answer(fsm, 1, false));
    EXPECT_EQ(newer_than_answer(fsm, 1, true)->token->generation, 1u) << "the current one";
    fsm.forced_refresh();
    succeed("2");
    EXPECT_EQ(newer_than_answer(fsm, 1, false)->token->generation, 2u);
}

TEST_F(ReaderAnswers, AtShutdownAReaderWaitsForTheRequestInFlightALongPollDoesNot) {
    start();
    clock.advance(1h);
    auto a = fsm.reader_with_min_ttl(long_job);
    fsm.shutdown();
    EXPECT_FALSE(min_ttl_answer(fsm, a.waiting, long_job, false)) << "its refresh is in flight";
    EXPECT_TRUE(newer_than_answer(fsm, 5, false)) << "a long poll would hold the shutdown";
    succeed("2");
    EXPECT_EQ(fsm.phase(), keeper_phase::stopped);
    const auto answer = min_ttl_answer(fsm, a.waiting, long_job, false);
    ASSERT_TRUE(answer);
    ASSERT_NE(answer->token, nullptr);
    EXPECT_EQ(answer->token->generation, 2u);
}

} // namespace
} // namespace priava_tokend::testing
