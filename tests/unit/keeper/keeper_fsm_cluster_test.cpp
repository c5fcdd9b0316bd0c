#include "keeper_fixture.hpp"

#include <priava_tokend/keeper/keeper_fsm.hpp>
#include <priava_tokend/keeper/reader_answers.hpp>

namespace priava_tokend::testing {
namespace {

using keeper_do::ask_leader;
using keeper_do::read_code_file;
using keeper_do::report_status;
using keeper_do::request_token;
using keeper_do::wake_readers;
using keeper_do::write_state;

/// The keeper's cluster events (keeper_fsm_cluster.cpp) and the `refresher` gate of its refresh
/// cycle, stepped by hand on the fixture's manual clock.
class KeeperFsmCluster : public KeeperTest {
  protected:
    /// The planned refresh of a fresh 6 h token: (6 h - 60 s serve_margin) * 0.75, no jitter.
    static constexpr std::chrono::seconds refresh_after = 16155s;

    /// A follower: started from a state file holding generation 1, then told it may not refresh.
    keeper_actions follower() {
        start();
        return fsm.set_refresher(false);
    }

    /// Tokens the leader committed `age` ago, `generation` and 6 h of lifetime.
    stored_tokens from_leader(std::uint64_t generation, std::chrono::seconds age = 0s) const {
        auto t = stored(generation);
        t.received_at -= age;
        t.expires_at -= age;
        return t;
    }

    keeper_fsm with_code_file(bool refresher) {
        auto s = settings();
        s.code_file = "/run/secrets/priava_code";
        keeper_fsm k{s, "cluster state", clock, random};
        k.set_refresher(refresher);
        return k;
    }
};

// --- the refresher gate --------------------------------------------------------------------

TEST_F(KeeperFsmCluster, ARefresherIsTheDefaultOutsideClusterMode) {
    EXPECT_TRUE(fsm.refresher());
    EXPECT_TRUE(fsm.set_refresher(true).empty()) << "no change, nothing to do";
}

TEST_F(KeeperFsmCluster, SetRefresherReportsTheChangeOnce) {
    start();
    const auto changed = fsm.set_refresher(false);
    EXPECT_FALSE(fsm.refresher());
    EXPECT_NE(find<report_status>(changed), nullptr);
    EXPECT_EQ(find<request_token>(changed), nullptr);
    EXPECT_TRUE(fsm.set_refresher(false).empty()) << "no change, nothing to do";
}

TEST_F(KeeperFsmCluster, ANonRefresherSendsNoTokenRequestAtRefreshTime) {
    follower();
    clock.advance(refresh_after);
    const auto due = fsm.timer_fired();
    EXPECT_EQ(find<request_token>(due), nullptr);
    EXPECT_FALSE(fsm.request_in_flight());
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_EQ(armed(due), clock.now() + 21600s - refresh_after - 60s)
        << "only the token's crossing of serve_margin is due";
    EXPECT_FALSE(status_of(fsm).next_refresh_at) << "no refresh is planned on this node";
    EXPECT_FALSE(fsm.attempt_planned());
}

TEST_F(KeeperFsmCluster, ANonRefresherLetsItsTokenExpireWithoutARequest) {
    follower();
    clock.advance(21600s - 60s);
    const auto crossed = fsm.timer_fired();
    EXPECT_EQ(find<request_token>(crossed), nullptr);
    EXPECT_EQ(fsm.phase(), keeper_phase::expired);
    EXPECT_EQ(fsm.usable_token(), nullptr);
    EXPECT_EQ(armed(crossed), steady_time::max()) << "nothing more is due on a follower";
    clock.advance(24h);
    EXPECT_EQ(find<request_token>(fsm.timer_fired()), nullptr);
}

TEST_F(KeeperFsmCluster, AFirstCodeWaitsUntilTheKeeperMayRefresh) {
    fsm.set_refresher(false);
    const auto started = fsm.start_with_code(secret{"the-code"});
    EXPECT_EQ(find<request_token>(started), nullptr);
    EXPECT_EQ(armed(started), steady_time::max());
    const auto leading = fsm.set_refresher(true);
    const auto* r = find<request_token>(leading);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->grant, grant_type::authorization_code);
    EXPECT_EQ(r->credential.reveal(), "the-code");
}

// --- asking the leader ---------------------------------------------------------------------

TEST_F(KeeperFsmCluster, AForcedRefreshOnANonRefresherAsksTheLeader) {
    follower();
    clock.advance(1h);
    const auto a = fsm.forced_refresh();
    EXPECT_FALSE(a.answer);
    const auto* ask = find<ask_leader>(a.actions);
    ASSERT_NE(ask, nullptr);
    EXPECT_EQ(ask->generation, 1u);
    EXPECT_EQ(find<request_token>(a.actions), nullptr);
    EXPECT_FALSE(fsm.request_in_flight());
    EXPECT_EQ(a.waiting.generation, 1u);
}

TEST_F(KeeperFsmCluster, AReaderWantingMoreTtlThanHeldOnANonRefresherAsksTheLeader) {
    follower();
    clock.advance(4h);
    EXPECT_TRUE(fsm.reader_with_min_ttl(1h).answer) << "2 h left: served at once";
    const auto a = fsm.reader_with_min_ttl(3h);
    EXPECT_FALSE(a.answer);
    const auto* ask = find<ask_leader>(a.actions);
    ASSERT_NE(ask, nullptr);
    EXPECT_EQ(ask->generation, 1u);
    EXPECT_EQ(find<request_token>(a.actions), nullptr);
}

TEST_F(KeeperFsmCluster, TheLeaderIsAskedForTokensNewerThanTheNewestTaken) {
    follower();
    fsm.shared_state(from_leader(5));
    clock.advance(1h);
    const auto a = fsm.forced_refresh();
    const auto* ask = find<ask_leader>(a.actions);
    ASSERT_NE(ask, nullptr);
    EXPECT_EQ(ask->generation, 5u);
}

TEST_F(KeeperFsmCluster, ARefresherRefreshesItselfInsteadOfAskingTheLeader) {
    start();
    clock.advance(1h);
    const auto a = fsm.forced_refresh();
    EXPECT_EQ(find<ask_leader>(a.actions), nullptr);
    EXPECT_EQ(requested(a.actions), "refresh-1");
}

// --- tokens the leader committed -----------------------------------------------------------

TEST_F(KeeperFsmCluster, TakesANewerGenerationFromTheCluster) {
    follower();
    clock.advance(1h);
    const auto settled = fsm.settled_requests();
    const auto taken = fsm.shared_state(from_leader(3));
    ASSERT_NE(fsm.held(), nullptr);
    EXPECT_EQ(fsm.held()->generation, 3u);
    EXPECT_EQ(fsm.held()->access_token.reveal(), "access-3");
    EXPECT_EQ(fsm.held()->expires_at, clock.wall_now() + 6h);
    EXPECT_EQ(fsm.held()->seconds_left(clock.now()), 6h);
    EXPECT_EQ(fsm.stored_generation(), 3u);
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_EQ(status_of(fsm).state, token_state::valid);
    EXPECT_EQ(status_of(fsm).generation, 3u);
    EXPECT_EQ(fsm.settled_requests(), settled + 1);
    EXPECT_NE(find<wake_readers>(taken), nullptr);
    EXPECT_NE(find<report_status>(taken), nullptr);
    EXPECT_EQ(find<write_state>(taken), nullptr) << "the cluster stores its own state";
    EXPECT_EQ(find<request_token>(taken), nullptr);
    EXPECT_NE(logged(taken).find("took generation 3 from the cluster"), std::string::npos);
}

TEST_F(KeeperFsmCluster, ASharedTokenKeepsOnlyItsRemainingLifetime) {
    follower();
    fsm.shared_state(from_leader(2, 2h));
    ASSERT_NE(fsm.held(), nullptr);
    EXPECT_EQ(fsm.held()->lifetime, 6h);
    EXPECT_EQ(fsm.held()->seconds_left(clock.now()), 4h);
    ASSERT_TRUE(fsm.next_attempt());
    EXPECT_EQ(*fsm.next_attempt(), clock.now() + refresh_after - 2h)
        << "planned from when the leader received it";
    EXPECT_EQ(status_of(fsm).last_refresh_at, clock.wall_now() - 2h);
}

TEST_F(KeeperFsmCluster, ASharedTokenAlreadyWithinServeMarginIsHeldButNotServed) {
    follower();
    const auto taken = fsm.shared_state(from_leader(2, 6h - 30s));
    ASSERT_NE(fsm.held(), nullptr);
    EXPECT_EQ(fsm.held()->generation, 2u);
    EXPECT_EQ(fsm.usable_token(), nullptr);
    EXPECT_EQ(fsm.phase(), keeper_phase::expired);
    EXPECT_NE(logged(taken).find("within serve_margin"), std::string::npos);
}

TEST_F(KeeperFsmCluster, IgnoresAnOlderOrEqualGeneration) {
    fsm.start_with_tokens(stored(3));
    fsm.set_refresher(false);
    auto same = from_leader(3);
    same.access_token = secret{"access-other"};
    EXPECT_TRUE(fsm.shared_state(std::move(same)).empty());
    EXPECT_TRUE(fsm.shared_state(from_leader(2)).empty());
    EXPECT_TRUE(fsm.shared_state(from_leader(0)).empty());
    EXPECT_EQ(fsm.held()->access_token.reveal(), "access-3");
    EXPECT_EQ(fsm.stored_generation(), 3u);
}

TEST_F(KeeperFsmCluster, IgnoresSharedStateWhileARequestIsInFlight) {
    start();
    until_refresh();
    ASSERT_TRUE(fsm.request_in_flight());
    EXPECT_TRUE(fsm.shared_state(from_leader(5)).empty());
    EXPECT_EQ(fsm.held()->generation, 1u);
    EXPECT_EQ(fsm.stored_generation(), 1u);
    EXPECT_TRUE(fsm.request_in_flight());
    succeed("2");
    EXPECT_EQ(fsm.usable_token()->generation, 2u) << "the request's own answer is served";
}

TEST_F(KeeperFsmCluster, IgnoresSharedStateWhileStopping) {
    follower();
    fsm.shutdown();
    EXPECT_TRUE(fsm.shared_state(from_leader(2)).empty());
    EXPECT_EQ(fsm.held()->generation, 1u);
    EXPECT_EQ(fsm.phase(), keeper_phase::stopped);
}

TEST_F(KeeperFsmCluster, TakingSharedStateAnswersAReaderWaitingForMoreTtl) {
    follower();
    clock.advance(4h);
    const auto waiting = fsm.reader_with_min_ttl(3h);
    ASSERT_FALSE(waiting.answer);
    EXPECT_FALSE(min_ttl_answer(fsm, waiting.waiting, 3h, false));
    fsm.shared_state(from_leader(2));
    const auto answer = min_ttl_answer(fsm, waiting.waiting, 3h, false);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->why, refusal::none);
    ASSERT_NE(answer->token, nullptr);
    EXPECT_EQ(answer->token->generation, 2u);
}

TEST_F(KeeperFsmCluster, TakingSharedStateAnswersAForcedRefreshWaitingOnTheLeader) {
    follower();
    clock.advance(1h);
    const auto waiting = fsm.forced_refresh();
    ASSERT_FALSE(waiting.answer);
    EXPECT_FALSE(forced_refresh_answer(fsm, waiting.waiting, false));
    fsm.shared_state(from_leader(2));
    const auto answer = forced_refresh_answer(fsm, waiting.waiting, false);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->why, refusal::none);
    ASSERT_NE(answer->token, nullptr);
    EXPECT_EQ(answer->token->generation, 2u);
    EXPECT_EQ(answer->token->access_token.reveal(), "access-2");
}

// --- a lost chain --------------------------------------------------------------------------

TEST_F(KeeperFsmCluster, ALostChainRequiresANewCode) {
    follower();
    const std::string why = "node host-2 sent a token request to Priava and stopped before "
                            "committing its answer";
    const auto lost = fsm.chain_lost(why);
    EXPECT_EQ(fsm.phase(), keeper_phase::reauth_required);
    EXPECT_EQ(status_of(fsm).state, token_state::reauth_required);
    ASSERT_TRUE(fsm.last_error());
    EXPECT_EQ(fsm.last_error()->error, "chain_lost");
    EXPECT_EQ(fsm.last_error()->description, why);
    EXPECT_EQ(fsm.last_error()->at, clock.wall_now());
    EXPECT_FALSE(fsm.next_attempt());
    EXPECT_NE(find<wake_readers>(lost), nullptr);
    EXPECT_NE(find<report_status>(lost), nullptr);
    EXPECT_NE(logged(lost).find(why + ". A person must make a new code"), std::string::npos);
    EXPECT_NE(logged(lost).find("priava-tokend bootstrap"), std::string::npos);
    EXPECT_NE(fsm.usable_token(), nullptr) << "the held token is served until spent";
}

TEST_F(KeeperFsmCluster, ALostChainStopsRequestsEvenOnTheRefresher) {
    start();
    fsm.chain_lost("the chain is lost");
    clock.advance(refresh_after);
    EXPECT_EQ(find<request_token>(fsm.timer_fired()), nullptr);
    const auto forced = fsm.forced_refresh();
    ASSERT_TRUE(forced.answer);
    EXPECT_EQ(forced.answer->why, refusal::reauth_required);
    EXPECT_EQ(find<ask_leader>(forced.actions), nullptr);
}

TEST_F(KeeperFsmCluster, ALostChainIsTakenOnce) {
    follower();
    fsm.chain_lost("first");
    EXPECT_TRUE(fsm.chain_lost("second").empty());
    EXPECT_EQ(fsm.last_error()->description, "first");
}

TEST_F(KeeperFsmCluster, ALostChainAsksForTheCodeFileOnlyOnTheRefresher) {
    auto refresher = with_code_file(true);
    refresher.start_with_tokens(stored());
    const auto lost = refresher.chain_lost("lost");
    const auto* read = find<read_code_file>(lost);
    ASSERT_NE(read, nullptr);
    EXPECT_EQ(read->path, "/run/secrets/priava_code");

    auto non_refresher = with_code_file(false);
    non_refresher.start_with_tokens(stored());
    EXPECT_EQ(find<read_code_file>(non_refresher.chain_lost("lost")), nullptr);
    EXPECT_EQ(non_refresher.phase(), keeper_phase::reauth_required);
}

TEST_F(KeeperFsmCluster, SharedStateAfterALostChainBringsTheKeeperBack) {
    follower();
    fsm.chain_lost("lost");
    const auto taken = fsm.shared_state(from_leader(2));
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    EXPECT_EQ(status_of(fsm).state, token_state::valid);
    EXPECT_EQ(fsm.usable_token()->generation, 2u);
    EXPECT_NE(find<wake_readers>(taken), nullptr);
    fsm.set_refresher(true);
    EXPECT_EQ(requested(until_refresh()), "refresh-2") << "the taken refresh token is used";
}

TEST_F(KeeperFsmCluster, ASharedCredentialDropsACodeFileCodeThatWaitsForTheRefresherRole) {
    fsm.set_refresher(false);
    fsm.start_with_code(secret{"code-1"});
    const auto taken = fsm.shared_state(from_leader(2));
    EXPECT_EQ(fsm.usable_token()->generation, 2u);
    EXPECT_NE(logged(taken).find("bootstrap.code_file is not sent"), std::string::npos)
        << logged(taken);
    EXPECT_FALSE(fsm.first_token_pending());
    const auto leading = fsm.set_refresher(true);
    EXPECT_EQ(find<request_token>(leading), nullptr) << "the code would start a second chain";
    EXPECT_EQ(requested(until_refresh()), "refresh-2");
}

// --- becoming the refresher ----------------------------------------------------------------

TEST_F(KeeperFsmCluster, BecomingTheRefresherPlansTheRefreshOfTheHeldToken) {
    follower();
    clock.advance(1h);
    fsm.shared_state(from_leader(2));
    const auto leading = fsm.set_refresher(true);
    EXPECT_TRUE(fsm.refresher());
    EXPECT_EQ(find<request_token>(leading), nullptr) << "not due yet";
    EXPECT_NE(find<report_status>(leading), nullptr);
    EXPECT_EQ(armed(leading), clock.now() + refresh_after);
    EXPECT_TRUE(fsm.attempt_planned());
    EXPECT_TRUE(status_of(fsm).next_refresh_at);
    clock.advance(refresh_after);
    EXPECT_EQ(requested(fsm.timer_fired()), "refresh-2");
}

TEST_F(KeeperFsmCluster, BecomingTheRefresherSendsARefreshAlreadyDue) {
    follower();
    clock.advance(refresh_after + 1h);
    EXPECT_EQ(find<request_token>(fsm.timer_fired()), nullptr);
    const auto leading = fsm.set_refresher(true);
    const auto* r = find<request_token>(leading);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->grant, grant_type::refresh_token);
    EXPECT_EQ(r->credential.reveal(), "refresh-1");
    EXPECT_EQ(fsm.phase(), keeper_phase::refreshing);
}

TEST_F(KeeperFsmCluster, LosingTheRefresherRoleMidRequestLetsTheAnswerLand) {
    start();
    until_refresh();
    fsm.set_refresher(false);
    EXPECT_TRUE(fsm.request_in_flight());
    succeed("2");
    EXPECT_EQ(fsm.usable_token()->generation, 2u);
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
    clock.advance(refresh_after);
    EXPECT_EQ(find<request_token>(fsm.timer_fired()), nullptr);
}

TEST_F(KeeperFsmCluster, BecomingTheRefresherInReauthRequiredAsksForACodeNotARefresh) {
    auto k = with_code_file(false);
    k.start_with_tokens(stored());
    k.chain_lost("lost");
    clock.advance(refresh_after);
    const auto leading = k.set_refresher(true);
    EXPECT_EQ(find<request_token>(leading), nullptr);
    ASSERT_NE(find<read_code_file>(leading), nullptr);
    const auto fresh = k.code_file_read(secret{"code-2"});
    const auto* r = find<request_token>(fresh);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->grant, grant_type::authorization_code);
    EXPECT_EQ(r->credential.reveal(), "code-2");
}

// --- bootstrap -----------------------------------------------------------------------------

TEST_F(KeeperFsmCluster, ABootstrapCodeOnANonRefresherIsRefusedAsAConflict) {
    follower();
    const auto a = fsm.bootstrap_code(secret{"new-code"}, true);
    ASSERT_TRUE(a.answer);
    EXPECT_EQ(a.answer->why, refusal::conflict);
    EXPECT_FALSE(a.answer->detail.empty());
    EXPECT_EQ(a.answer->retry_after, 5s);
    EXPECT_EQ(a.answer->detail.find("new-code"), std::string::npos);
    EXPECT_EQ(find<request_token>(a.actions), nullptr);
    EXPECT_EQ(fsm.phase(), keeper_phase::valid);
}

TEST_F(KeeperFsmCluster, ABootstrapCodeAfterALostChainIsRefusedOnANonRefresherToo) {
    follower();
    fsm.chain_lost("lost");
    const auto a = fsm.bootstrap_code(secret{"new-code"}, false);
    ASSERT_TRUE(a.answer);
    EXPECT_EQ(a.answer->why, refusal::conflict);
    EXPECT_EQ(fsm.phase(), keeper_phase::reauth_required);
    fsm.set_refresher(true);
    const auto leading = fsm.bootstrap_code(secret{"new-code"}, false);
    EXPECT_FALSE(leading.answer);
    EXPECT_EQ(requested(leading.actions), "new-code");
}

} // namespace
} // namespace priava_tokend::testing
