// The keeper's events of cluster mode (docs/cluster.md): whether this node may refresh, tokens
// committed by the leader, and a chain the cluster lost.

#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/keeper/keeper_fsm.hpp>

namespace priava_tokend {

keeper_actions keeper_fsm::set_refresher(bool refresher) {
    keeper_actions out;
    if (refresher == refresher_) {
        return out;
    }
    refresher_ = refresher;
    if (refresher_ && token_ && !next_attempt_ && phase_ != keeper_phase::reauth_required) {
        schedule_refresh();
    }
    want_code_file(out);
    out.emplace_back(keeper_do::report_status{});
    advance(out);
    return out;
}

keeper_actions keeper_fsm::shared_state(stored_tokens tokens) {
    keeper_actions out;
    // While a request or its write is under way, its tokens settle first; the member offers the
    // shared state again at its next look.
    if (ending() || busy() || after_write_ || tokens.generation <= latest_.generation) {
        return out;
    }
    token_ = held_from(tokens);
    refresh_token_ = tokens.refresh_token;
    code_digest_ = tokens.bootstrap_code_sha256;
    stats_.last_success = tokens.received_at;
    last_success_ = token_->received;
    latest_ = std::move(tokens);
    consecutive_failures_ = 0;
    spent_reported_ = false;
    if (codes_.waiting() && !codes_.socket_code_waiting()) {
        // The code file's code would start a chain of its own: the cluster has one already.
        const pending_code dropped = codes_.take();
        code_digest_ = sha256_hex(dropped.code.reveal());
        log(out, log_level::info,
            "the cluster holds a credential: the code from bootstrap.code_file is not sent");
    }
    schedule_refresh();
    phase_ = keeper_phase::valid;
    ++settled_requests_;
    log(out, log_level::info,
        "took generation " + std::to_string(latest_.generation) + " from the cluster, expires " +
            format_rfc3339(latest_.expires_at));
    out.emplace_back(keeper_do::wake_readers{});
    out.emplace_back(keeper_do::report_status{});
    advance(out);
    return out;
}

keeper_actions keeper_fsm::chain_lost(std::string why) {
    keeper_actions out;
    if (ending() || phase_ == keeper_phase::reauth_required) {
        return out;
    }
    last_error_ = error_record{"chain_lost", why, clock_.wall_now()};
    enter(keeper_phase::reauth_required);
    consecutive_failures_ = 0;
    next_attempt_.reset();
    ++settled_requests_;
    log(out, log_level::error,
        why + ". A person must make a new code in Priava and run `priava-tokend bootstrap`");
    want_code_file(out);
    out.emplace_back(keeper_do::wake_readers{});
    out.emplace_back(keeper_do::report_status{});
    advance(out);
    return out;
}

} // namespace priava_tokend
