#include "keeper_fixture.hpp"

#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/keeper/keeper_fsm.hpp>
#include <priava_tokend/keeper/reader_answers.hpp>

namespace priava_tokend::testing {
namespace {

using keeper_do::arm_timer;
using keeper_do::finish;
using keeper_do::read_code_file;
using keeper_do::request_token;
using keeper_do::wake_readers;
using keeper_do::write_state;

using KeeperFsm = KeeperTest;

// --- starting ------------------------------------------------------------------------------

TEST_F(KeeperFsm, ServesAStoredTokenAtOnceAndPlansTheRefresh) {
    const auto actions = start();
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    ASSERT_NE(fsm.usable_token(), nullptr);
    EXPECT_EQ(fsm.usable_token()->generation, 1u);
    EXPECT_EQ(find<request_token>(actions), nullptr);
    // (6 h - 60 s serve_margin) * 0.75, no jitter drawn.
    EXPECT_EQ(armed(actions), clock.now() + 16155s);
    EXPECT_EQ(status_of(fsm).state, token_state::valid);
}

TEST_F(KeeperFsm, AStoredTokenAlreadySpentIsRefreshedAtOnce) {
    auto old = stored(4);
    old.received_at -= 7h;
    old.expires_at -= 7h;
    const auto actions = fsm.start_with_tokens(std::move(old));
    EXPECT_EQ(requested(actions), "refresh-4");
    EXPECT_EQ(fsm.phase(), keeper_phase::refreshing);
    EXPECT_EQ(fsm.usable_token(), nullptr);
    EXPECT_NE(logged(actions).find("within serve_margin"), std::string::npos);
}

TEST_F(KeeperFsm, StartsWithACodeByExchangingIt) {
    const auto actions = fsm.start_with_code(secret{"the-code"});
    const auto* r = find<request_token>(actions);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->grant, grant_type::authorization_code);
    EXPECT_EQ(r->credential.reveal(), "the-code");
    EXPECT_TRUE(fsm.first_token_pending());
    EXPECT_EQ(status_of(fsm).state, token_state::refreshing);
    const auto done = succeed("first");
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_EQ(fsm.usable_token()->generation, 1u);
    EXPECT_NE(logged(done).find("authorization code exchanged: generation 1"), std::string::npos);
    EXPECT_FALSE(fsm.first_token_pending());
}

TEST_F(KeeperFsm, AFirstCodeThatFailsTransientlyIsSentAgainAfterTheBackoff) {
    fsm.start_with_code(secret{"the-code"});
    const auto failed = fsm.token_response(transient());
    EXPECT_EQ(fsm.phase(), keeper_phase::retrying);
    EXPECT_EQ(status_of(fsm).state, token_state::retrying);
    EXPECT_EQ(armed(failed), clock.now() + 1s);
    clock.advance(1s);
    const auto again = fsm.timer_fired();
    const auto* r = find<request_token>(again);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->grant, grant_type::authorization_code);
    EXPECT_EQ(r->credential.reveal(), "the-code");
}

// --- the refresh cycle ---------------------------------------------------------------------

TEST_F(KeeperFsm, RefreshesWhenTheTimerFires) {
    start();
    clock.advance(16154s);
    EXPECT_EQ(find<request_token>(fsm.timer_fired()), nullptr) << "a second early";
    clock.advance(1s);
    const auto actions = fsm.timer_fired();
    EXPECT_EQ(requested(actions), "refresh-1");
    EXPECT_EQ(fsm.phase(), keeper_phase::refreshing);
    EXPECT_EQ(status_of(fsm).state, token_state::refreshing);
    EXPECT_NE(fsm.usable_token(), nullptr) << "readers are served during the refresh";
    EXPECT_EQ(armed(actions), clock.now() + 21600s - 16155s - 60s)
        << "only the token's crossing of serve_margin is due while a request is in flight";
}

TEST_F(KeeperFsm, WritesTheNewRefreshTokenBeforeServingItsAccessToken) {
    start();
    until_refresh();
    const auto answered = fsm.token_response(tokens("2"));
    const auto* write = find<write_state>(answered);
    ASSERT_NE(write, nullptr);
    EXPECT_EQ(write->tokens.refresh_token.reveal(), "refresh-2");
    EXPECT_EQ(write->tokens.generation, 2u);
    EXPECT_EQ(fsm.usable_token()->generation, 1u) << "not served before it is written";
    EXPECT_EQ(fsm.phase(), keeper_phase::refreshing);
    EXPECT_EQ(fsm.store_state(), persistence::writing);

    const auto written = fsm.state_written();
    EXPECT_EQ(fsm.usable_token()->generation, 2u);
    EXPECT_EQ(fsm.usable_token()->access_token.reveal(), "access-2");
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_NE(find<wake_readers>(written), nullptr);
    EXPECT_EQ(armed(written), clock.now() + 16155s);
    EXPECT_EQ(fsm.stats().success, 1u);
    EXPECT_EQ(fsm.stats().state_writes, 1u);
}

TEST_F(KeeperFsm, KeepsTheRefreshTokenWhenTheAnswerHasNone) {
    start();
    until_refresh();
    const auto answered = fsm.token_response(tokens("2", 6h, false));
    EXPECT_EQ(find<write_state>(answered)->tokens.refresh_token.reveal(), "refresh-1");
    fsm.state_written();
    EXPECT_EQ(requested(until_refresh()), "refresh-1");
}

TEST_F(KeeperFsm, BacksOffOnTransientFailuresWhileServingTheHeldToken) {
    start();
    until_refresh();
    const auto first = fsm.token_response(transient());
    EXPECT_EQ(fsm.phase(), keeper_phase::retrying);
    EXPECT_EQ(status_of(fsm).consecutive_failures, 1u);
    EXPECT_EQ(armed(first), clock.now() + 1s);
    EXPECT_NE(fsm.usable_token(), nullptr);
    EXPECT_NE(logged(first).find("attempt 2 in 1s"), std::string::npos);

    random.value = 0.999;
    clock.advance(1s);
    EXPECT_EQ(requested(fsm.timer_fired()), "refresh-1");
    const auto second = fsm.token_response(transient());
    // Full jitter up to min_backoff * 2: 1 s + 0.999 * 1 s.
    EXPECT_EQ(armed(second), clock.now() + 1999ms);
    EXPECT_EQ(status_of(fsm).consecutive_failures, 2u);

    clock.advance(1999ms);
    fsm.timer_fired();
    succeed("2");
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_EQ(status_of(fsm).consecutive_failures, 0u);
}

TEST_F(KeeperFsm, A429WaitsForItsRetryAfterWhenThatIsLaterThanTheBackoff) {
    start();
    until_refresh();
    const auto limited = fsm.token_response(transient(clock.wall_now() + 90s));
    EXPECT_EQ(armed(limited), clock.now() + 90s);
    clock.advance(60s);
    EXPECT_EQ(find<request_token>(fsm.timer_fired()), nullptr);
    clock.advance(30s);
    EXPECT_EQ(requested(fsm.timer_fired()), "refresh-1");
}

TEST_F(KeeperFsm, ARetryAfterBeyondFiveMinutesIsCappedThere) {
    start();
    until_refresh();
    const auto limited = fsm.token_response(transient(clock.wall_now() + 24h));
    EXPECT_EQ(armed(limited), clock.now() + 5min);
}

TEST_F(KeeperFsm, ARejectionStopsEveryRequestUntilANewCode) {
    start();
    until_refresh();
    const auto refused = fsm.token_response(rejected());
    EXPECT_EQ(fsm.phase(), keeper_phase::reauth_required);
    EXPECT_EQ(status_of(fsm).state, token_state::reauth_required);
    EXPECT_NE(logged(refused).find("priava-tokend bootstrap"), std::string::npos);
    EXPECT_NE(fsm.usable_token(), nullptr) << "the held token is served until spent";
    EXPECT_EQ(find<read_code_file>(refused), nullptr) << "no code_file configured";
    clock.advance(2h);
    EXPECT_EQ(find<request_token>(fsm.timer_fired()), nullptr);
    EXPECT_EQ(fsm.forced_refresh().answer->why, refusal::reauth_required);
    EXPECT_EQ(status_of(fsm).last_error->error, "invalid_grant");
}

TEST_F(KeeperFsm, PriavasWordsAreRedactedOfEverySecret) {
    start();
    until_refresh();
    fsm.token_response(rejected("refresh-1 is not valid for client-secret-value"));
    EXPECT_EQ(status_of(fsm).last_error->description, "[redacted] is not valid for [redacted]");
}

TEST_F(KeeperFsm, AMalformedReplyWithANewRefreshTokenIsWrittenAndUsed) {
    start();
    until_refresh();
    auto failure = transient();
    failure.reason = errc::malformed_response;
    failure.rotated_refresh_token = secret{"refresh-rotated"};
    const auto answered = fsm.token_response(std::move(failure));
    EXPECT_EQ(find<write_state>(answered)->tokens.refresh_token.reveal(), "refresh-rotated");
    const auto before = fsm.settled_requests();
    fsm.state_written();
    EXPECT_EQ(fsm.settled_requests(), before + 1) << "settled once the new token is stored";
    clock.advance(1s);
    EXPECT_EQ(requested(fsm.timer_fired()), "refresh-rotated");
}

TEST_F(KeeperFsm, TheHeldTokenTurnsExpiredAtServeMargin) {
    auto s = settings();
    s.refresh.serve_margin = 1s;
    s.refresh.min_backoff = 10s;
    keeper_fsm short_lived{s, "state file /test/state.json", clock, random};
    // A 5 s token: served for 4 s; the refresh waits for min_backoff (10 s).
    const auto started = short_lived.start_with_tokens(stored(1, 5s));
    EXPECT_EQ(armed(started), clock.now() + 4s);
    clock.advance(4s);
    const auto crossed = short_lived.timer_fired();
    EXPECT_EQ(short_lived.phase(), keeper_phase::expired);
    EXPECT_EQ(status_of(short_lived).state, token_state::expired);
    EXPECT_NE(find<wake_readers>(crossed), nullptr);
    EXPECT_NE(logged(crossed).find("within serve_margin"), std::string::npos);
    EXPECT_EQ(armed(crossed), clock.now() + 6s);
    clock.advance(6s);
    EXPECT_EQ(requested(short_lived.timer_fired()), "refresh-1");
}

// --- the store -----------------------------------------------------------------------------

TEST_F(KeeperFsm, AFailedWriteServesFromMemoryAndRetriesUntilWritten) {
    start();
    until_refresh();
    fsm.token_response(tokens("2"));
    const auto failed = fsm.state_write_failed("cannot write state file /test (fsync): ENOSPC");
    EXPECT_EQ(fsm.usable_token()->generation, 2u) << "served from memory";
    EXPECT_EQ(fsm.store_state(), persistence::failed);
    EXPECT_FALSE(status_of(fsm).persisted);
    EXPECT_EQ(*status_of(fsm).persist_error, "cannot write state file /test (fsync): ENOSPC");
    EXPECT_NE(logged(failed).find("held in memory only"), std::string::npos);
    EXPECT_EQ(armed(failed), clock.now() + 1s);

    clock.advance(1s);
    const auto retried = fsm.timer_fired();
    const auto* again = find<write_state>(retried);
    ASSERT_NE(again, nullptr);
    EXPECT_EQ(again->tokens.refresh_token.reveal(), "refresh-2");
    const auto written = fsm.state_written();
    EXPECT_TRUE(status_of(fsm).persisted);
    EXPECT_NE(logged(written).find("state file /test/state.json written again"), std::string::npos);
    EXPECT_EQ(fsm.stats().state_write_failures, 1u);
    EXPECT_EQ(fsm.stats().state_writes, 1u);
}

TEST_F(KeeperFsm, NoRequestStartsWhileAWriteIsUnderWay) {
    start();
    until_refresh();
    fsm.token_response(tokens("2"));
    fsm.state_write_failed("disk full");
    // The retry and the next refresh are both due; the write goes first, then the request.
    clock.advance(5h);
    const auto due = fsm.timer_fired();
    EXPECT_NE(find<write_state>(due), nullptr);
    EXPECT_EQ(find<request_token>(due), nullptr);
    EXPECT_EQ(requested(fsm.state_written()), "refresh-2");
}

// --- the token request process stores in the keeper's place ---------------------------------

TEST_F(KeeperFsm, ARequestCarriesTheStateItsAnswerIsStoredFrom) {
    start();
    const auto due = until_refresh();
    const auto* r = find<request_token>(due);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->before.refresh_token.reveal(), "refresh-1");
    EXPECT_EQ(r->before.access_token.reveal(), "access-1");
    EXPECT_EQ(r->before.generation, 1u);
    EXPECT_EQ(r->code_digest, "");
}

TEST_F(KeeperFsm, ACodeExchangeCarriesTheDigestOfItsCode) {
    const auto started = fsm.start_with_code(secret{"the-code"});
    const auto* r = find<request_token>(started);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->before.generation, 0u) << "no state yet";
    EXPECT_EQ(r->code_digest, sha256_hex("the-code"));
}

TEST_F(KeeperFsm, TokensTheRequestProcessStoredAreServedWithoutAWrite) {
    start();
    until_refresh();
    auto answer = tokens("2");
    const wall_time received = clock.wall_now() - 2s; // the pipe and the process took 2 s
    answer.received_at = received;
    answer.stored = true;
    const auto answered = fsm.token_response(std::move(answer));
    EXPECT_EQ(find<write_state>(answered), nullptr) << "already on disk";
    EXPECT_NE(find<wake_readers>(answered), nullptr);
    ASSERT_NE(fsm.usable_token(), nullptr);
    EXPECT_EQ(fsm.usable_token()->generation, 2u);
    EXPECT_EQ(fsm.usable_token()->expires_at, received + 6h) << "as the state file says";
    EXPECT_EQ(fsm.usable_token()->expires, clock.now() + 6h - 2s);
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_EQ(fsm.store_state(), persistence::clean);
    EXPECT_EQ(fsm.stats().state_writes, 1u);
    EXPECT_EQ(requested(until_refresh()), "refresh-2");
}

TEST_F(KeeperFsm, TokensTheRequestProcessCouldNotStoreAreWrittenWithItsReceiptTime) {
    start();
    until_refresh();
    auto answer = tokens("2");
    const wall_time received = clock.wall_now() - 1s;
    answer.received_at = received;
    const auto answered = fsm.token_response(std::move(answer));
    const auto* write = find<write_state>(answered);
    ASSERT_NE(write, nullptr);
    EXPECT_EQ(write->tokens.received_at, received);
    EXPECT_EQ(write->tokens.expires_at, received + 6h);
    EXPECT_EQ(write->tokens.generation, 2u);
}

TEST_F(KeeperFsm, ARotationTheRequestProcessStoredIsNotWrittenAgain) {
    start();
    until_refresh();
    auto failure = transient();
    failure.reason = errc::malformed_response;
    failure.rotated_refresh_token = secret{"refresh-rotated"};
    failure.rotation_stored = true;
    const auto answered = fsm.token_response(std::move(failure));
    EXPECT_EQ(find<write_state>(answered), nullptr);
    EXPECT_EQ(fsm.store_state(), persistence::clean);
    clock.advance(1s);
    const auto retried = fsm.timer_fired();
    EXPECT_EQ(requested(retried), "refresh-rotated");
    EXPECT_EQ(find<request_token>(retried)->before.refresh_token.reveal(), "refresh-rotated");
}

TEST_F(KeeperFsm, StoredTokensEndAFailedWritesRetries) {
    auto s = settings();
    s.refresh.min_backoff = 30s; // the write's retry comes after the next refresh
    keeper_fsm k{s, "state file /test/state.json", clock, random};
    k.start_with_tokens(stored());
    ASSERT_NE(find<request_token>(k.forced_refresh().actions), nullptr);
    k.token_response(tokens("2"));
    k.state_write_failed("disk full");
    clock.advance(11s); // past the reuse window of forced refreshes
    ASSERT_NE(find<request_token>(k.forced_refresh().actions), nullptr);
    auto answer = tokens("3");
    answer.stored = true;
    const auto answered = k.token_response(std::move(answer));
    EXPECT_EQ(k.store_state(), persistence::clean);
    EXPECT_TRUE(status_of(k).persisted);
    EXPECT_EQ(k.usable_token()->generation, 3u);
    EXPECT_NE(logged(answered).find("written again"), std::string::npos);
    EXPECT_EQ(find<write_state>(answered), nullptr);
}

// --- bootstrap through the socket ----------------------------------------------------------

TEST_F(KeeperFsm, ABootstrapWithoutForceIsRefusedWhileTheCredentialWorks) {
    start();
    const auto a = fsm.bootstrap_code(secret{"new-code"}, false);
    ASSERT_TRUE(a.answer);
    EXPECT_EQ(a.answer->why, refusal::conflict);
    EXPECT_EQ(find<request_token>(a.actions), nullptr);
}

TEST_F(KeeperFsm, ABootstrapWhileRefreshingWaitsForTheRefreshThenGoes) {
    start();
    until_refresh();
    auto a = fsm.bootstrap_code(secret{"new-code"}, true);
    ASSERT_FALSE(a.answer);
    EXPECT_EQ(find<request_token>(a.actions), nullptr) << "one request at a time";
    EXPECT_FALSE(fsm.take_bootstrap_answer(a.waiting, false));

    auto refreshed = fsm.token_response(tokens("2"));
    EXPECT_EQ(find<request_token>(refreshed), nullptr) << "the write comes first";
    const auto written = fsm.state_written();
    const auto* code = find<request_token>(written);
    ASSERT_NE(code, nullptr);
    EXPECT_EQ(code->grant, grant_type::authorization_code);
    EXPECT_EQ(code->credential.reveal(), "new-code");
    EXPECT_EQ(fsm.usable_token()->generation, 2u);

    succeed("3");
    const auto answer = fsm.take_bootstrap_answer(a.waiting, false);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->why, refusal::none);
    EXPECT_EQ(answer->token->generation, 3u);
    EXPECT_FALSE(fsm.take_bootstrap_answer(a.waiting, false)) << "told once";
}

TEST_F(KeeperFsm, ARejectedBootstrapCodeLeavesTheCredentialAsItWas) {
    start();
    auto a = fsm.bootstrap_code(secret{"bad-code"}, true);
    EXPECT_EQ(find<request_token>(a.actions)->credential.reveal(), "bad-code");
    fsm.token_response(rejected("code bad-code is unknown"));
    const auto answer = fsm.take_bootstrap_answer(a.waiting, false);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->why, refusal::rejected);
    EXPECT_EQ(answer->priava_error, "invalid_grant");
    EXPECT_EQ(answer->detail.find("bad-code"), std::string::npos);
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_EQ(requested(until_refresh()), "refresh-1");
}

TEST_F(KeeperFsm, ABootstrapRecoversFromReauthRequired) {
    start();
    until_refresh();
    fsm.token_response(rejected());
    auto a = fsm.bootstrap_code(secret{"new-code"}, false);
    EXPECT_EQ(find<request_token>(a.actions)->credential.reveal(), "new-code");
    succeed("2");
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_EQ(fsm.take_bootstrap_answer(a.waiting, false)->token->generation, 2u);
    EXPECT_EQ(requested(until_refresh()), "refresh-2");
}

TEST_F(KeeperFsm, ANewCodeInTheCodeFileRecoversFromARejection) {
    auto s = settings();
    s.code_file = "/run/secrets/priava_code";
    keeper_fsm with_file{s, "state file /test/state.json", clock, random};
    with_file.start_with_code(secret{"code-1"});
    const auto refused = with_file.token_response(rejected());
    ASSERT_NE(find<read_code_file>(refused), nullptr);
    EXPECT_EQ(find<read_code_file>(refused)->path, "/run/secrets/priava_code");
    const auto same = with_file.code_file_read(secret{"code-1"});
    EXPECT_EQ(find<request_token>(same), nullptr) << "a code is never sent twice";
    EXPECT_NE(logged(same).find("still holds the code already used"), std::string::npos);
    const auto fresh = with_file.code_file_read(secret{"code-2"});
    EXPECT_EQ(requested(fresh), "code-2");
}

// --- shutdown ------------------------------------------------------------------------------

TEST_F(KeeperFsm, ShutdownWhenIdleFinishesAtOnce) {
    start();
    const auto actions = fsm.shutdown();
    EXPECT_NE(find<finish>(actions), nullptr);
    EXPECT_EQ(fsm.phase(), keeper_phase::stopped);
    EXPECT_EQ(fsm.next_wake(), steady_time::max());
}

TEST_F(KeeperFsm, ShutdownDuringARefreshLetsItFinishAndBeWritten) {
    start();
    until_refresh();
    const auto asked = fsm.shutdown();
    EXPECT_EQ(find<finish>(asked), nullptr);
    EXPECT_EQ(fsm.phase(), keeper_phase::stopping);
    EXPECT_EQ(status_of(fsm).state, token_state::refreshing);
    const auto answered = fsm.token_response(tokens("2"));
    EXPECT_NE(find<write_state>(answered), nullptr) << "the new refresh token is kept";
    EXPECT_EQ(find<finish>(answered), nullptr);
    const auto written = fsm.state_written();
    EXPECT_NE(find<finish>(written), nullptr);
    EXPECT_EQ(fsm.phase(), keeper_phase::stopped);
    clock.advance(24h);
    EXPECT_EQ(find<request_token>(fsm.timer_fired()), nullptr);
    EXPECT_EQ(fsm.bootstrap_code(secret{"late"}, true).answer->why, refusal::timed_out);
}

TEST_F(KeeperFsm, ShutdownWithAFailedWriteTriesOnceMore) {
    start();
    until_refresh();
    fsm.token_response(tokens("2"));
    fsm.state_write_failed("disk full");
    const auto asked = fsm.shutdown();
    EXPECT_NE(find<write_state>(asked), nullptr);
    EXPECT_EQ(find<finish>(asked), nullptr);
    EXPECT_NE(find<finish>(fsm.state_written()), nullptr);
}

// --- reconfiguration -----------------------------------------------------------------------

TEST_F(KeeperFsm, NewRefreshSettingsMoveThePlannedRefresh) {
    start();
    auto s = settings();
    s.refresh.at_lifetime_fraction = 0.5;
    const auto actions = fsm.reconfigure(s);
    EXPECT_EQ(armed(actions), clock.now() + 10770s); // (21600 s - 60 s) * 0.5
}

TEST_F(KeeperFsm, EveryPhaseHasAName) {
    for (const auto p :
         {keeper_phase::starting, keeper_phase::valid, keeper_phase::expired,
          keeper_phase::refreshing, keeper_phase::retrying, keeper_phase::reauth_required,
          keeper_phase::stopping, keeper_phase::stopped}) {
        EXPECT_FALSE(to_string(p).empty());
    }
    EXPECT_EQ(to_string(keeper_phase::reauth_required), "reauth_required");
}

} // namespace
} // namespace priava_tokend::testing
