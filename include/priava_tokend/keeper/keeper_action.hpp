#pragma once

#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/keeper/keeper_clock.hpp>
#include <priava_tokend/keeper/stored_tokens.hpp>
#include <priava_tokend/priava/token_request.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace priava_tokend {

/// What the keeper's state machine asks its shell to do. The shell carries each one out and
/// reports the result back as an event; it decides nothing itself.
namespace keeper_do {

/// Send a token request to Priava: exchange a code, or refresh. The answer comes back as
/// `keeper_fsm::token_response`.
struct request_token {
    grant_type grant = grant_type::refresh_token;
    secret credential; ///< the authorization code or the refresh token
    /// What the answer's tokens are stored from (state_after.hpp), for a store that lets the
    /// token request process write them in the keeper's place
    /// (`token_store::delegated_write_order`).
    stored_tokens before;
    std::string code_digest; ///< what the new state records as the chain's code
};

/// Write the state; the result comes back as `state_written` or `state_write_failed`.
struct write_state {
    stored_tokens tokens;
};

/// Call `timer_fired` at `at` (replacing any earlier arming); `steady_time::max()`: never.
struct arm_timer {
    steady_time at;
};

/// Read `bootstrap.code_file` (off the event loop); the result comes back as `code_file_read`.
struct read_code_file {
    std::string path;
};

/// Cluster mode, on a node that may not refresh: ask the leader for tokens newer than
/// `generation` (a reader needs one).
struct ask_leader {
    std::uint64_t generation = 0;
};

/// Readers waiting for a change should look again.
struct wake_readers {};

/// The state, token or errors changed: tell the supervisor (sd_notify STATUS=).
struct report_status {};

/// A line for the log. Never holds a secret.
struct log {
    log_level level = log_level::info;
    std::string text;
};

/// Shut down is complete: nothing is in flight and nothing more will be asked.
struct finish {};

} // namespace keeper_do

using keeper_action =
    std::variant<keeper_do::request_token, keeper_do::write_state, keeper_do::arm_timer,
                 keeper_do::read_code_file, keeper_do::ask_leader, keeper_do::wake_readers,
                 keeper_do::report_status, keeper_do::log, keeper_do::finish>;
using keeper_actions = std::vector<keeper_action>;

} // namespace priava_tokend
