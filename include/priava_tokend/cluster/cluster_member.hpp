#pragma once

#include <priava_tokend/cluster/cluster_status.hpp>
#include <priava_tokend/cluster/etcd_client.hpp>
#include <priava_tokend/cluster/shared_record.hpp>
#include <priava_tokend/cluster/state_cipher.hpp>
#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/keeper/token_keeper.hpp>
#include <priava_tokend/keeper/token_store.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace priava_tokend {

/// This daemon as one node of a cluster that shares one credential through etcd
/// (docs/cluster.md). It keeps a lease, takes the leader key when it is free, follows the state
/// key, hands newer tokens to the keeper, and lets the keeper refresh only while this node leads.
/// Every change of the state key is a transaction fenced by the key's revision: an intent before
/// a token request (`begin_request`), the new tokens after it (`commit`).
/// Single-threaded: every call on the event loop's executor.
class cluster_member {
  public:
    cluster_member(net::any_io_executor ex, const config::cluster_section& settings,
                   milliseconds request_timeout, etcd_options etcd, state_cipher cipher,
                   std::string fingerprint, token_store& local, const logger& log);

    /// Before the keeper starts: reads the shared state and reconciles it with `local` (the
    /// state file's tokens, if any). Fails when the shared state does not decrypt (a wrong
    /// `encryption_key_file`): the node must not serve then. etcd out of reach is not a failure;
    /// the node starts from its own copy. Returns the tokens to start the keeper with.
    net::awaitable<outcome<std::optional<stored_tokens>>> join(std::optional<stored_tokens> local);

    /// The node's life: lease, election, following the state; until `stop()`. Needs `keeper`.
    net::awaitable<void> run(token_keeper& keeper);
    void stop();

    /// The fence before a token request: the state key becomes this node's intent. Fails when
    /// this node is not the leader, or the state moved; nothing may be sent to Priava then.
    net::awaitable<outcome<void>> begin_request();
    /// Commits new tokens over this node's intent (or the state it last saw).
    net::awaitable<outcome<void>> commit(const stored_tokens& tokens);

    /// Priava rejected the refresh token of this node's intent: the chain is dead, and every node
    /// says so (phase `rejected`) instead of waiting for a commit that never comes.
    net::awaitable<outcome<void>> mark_rejected();

    // --- `bootstrap` with no daemon running on this node ---------------------------------------

    /// The shared state as etcd holds it now (nothing when there is none yet); `status().leader`
    /// names the leader then.
    net::awaitable<outcome<std::optional<shared_record>>> read();
    /// The intent of a code exchange: fenced by the state just `read`, not by the lead.
    net::awaitable<outcome<void>> begin_bootstrap();
    /// Puts back the state the intent replaced (the code was refused: the chain before stays).
    net::awaitable<outcome<void>> abandon_intent();

    cluster_status status() const;

#ifdef PRIAVA_TOKEND_TEST_HOOKS
    /// tests/e2e/test_cluster.py: the process ends as soon as an intent is in etcd, as a leader
    /// that dies before its token request leaves. Release builds lack it.
    void exit_after_intent() noexcept {
        exit_after_intent_ = true;
    }
#endif
    const std::string& holder() const noexcept {
        return holder_;
    }

  private:
    net::awaitable<outcome<void>> begin_intent(bool as_leader);
    /// `join`'s steps: the first node's state into an empty etcd; a newer state put back.
    net::awaitable<void> seed(const stored_tokens& local);
    net::awaitable<void> put_back_newer(const stored_tokens& local);
    net::awaitable<void> tick();
    net::awaitable<bool> keep_lease();
    net::awaitable<void> elect();
    net::awaitable<void> read_state();
    net::awaitable<void> answer_asks();
    net::awaitable<void> ask_leader(std::uint64_t generation);
    void decide_role();
    std::optional<shared_record> decode(const etcd_kv& kv);
    void etcd_down(const failure& f);
    std::chrono::milliseconds tick_interval() const;

    net::any_io_executor ex_;
    config::cluster_section settings_;
    milliseconds request_timeout_;
    etcd_client etcd_;
    state_cipher cipher_;
    std::string fingerprint_;
    token_store& local_;
    const logger& log_;
    token_keeper* keeper_ = nullptr;

    std::string prefix_;
    std::string holder_; ///< node/incarnation
    std::int64_t lease_ = 0;
    std::chrono::steady_clock::time_point lease_until_{};
    std::int64_t leader_rev_ = 0; ///< create_revision of our leader key, 0 when not leading
    std::string leader_name_;
    std::string leader_holder_; ///< the leader key's value: node/incarnation
    std::optional<shared_record> record_;
    std::int64_t state_rev_ = 0;  ///< mod_revision of the state key as last seen; 0: absent
    std::int64_t intent_rev_ = 0; ///< our open intent's revision
    std::string seen_value_;      ///< the state key's value at `state_rev_`
    std::string replaced_;        ///< the state key's value our intent replaced
    struct foreign_intent {
        std::int64_t revision = 0;
        std::chrono::steady_clock::time_point seen;
        bool reported = false;
    };
    std::optional<foreign_intent> foreign_;
    bool etcd_up_ = false;
    bool leading_ = false;
    bool asking_ = false;
    bool stopping_ = false;
    bool exit_after_intent_ = false;
    std::string last_etcd_error_;
    std::string last_decode_error_;
    net::steady_timer wake_;
};

} // namespace priava_tokend
