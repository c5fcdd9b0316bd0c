#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/core/timestamp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace priava_tokend {

/// The access token being served, with its expiry on both clocks: the monotonic one decides,
/// the wall-clock one is for people and clients.
struct held_token {
    secret access_token;
    std::chrono::steady_clock::time_point received;
    std::chrono::steady_clock::time_point expires;
    wall_time expires_at;
    std::chrono::seconds lifetime{0};
    std::uint64_t generation = 0;

    /// Whole seconds left at `now`, rounded down, never negative.
    std::chrono::seconds seconds_left(std::chrono::steady_clock::time_point now) const;
};

/// The states of SPEC §4 `/v1/status`.
enum class token_state { starting, valid, refreshing, retrying, expired, reauth_required };
std::string_view to_string(token_state s) noexcept;
inline constexpr token_state all_token_states[] = {
    token_state::starting, token_state::valid,   token_state::refreshing,
    token_state::retrying, token_state::expired, token_state::reauth_required};

/// The last failure: Priava's `error` (or ours, e.g. `connect_failed`) and its description.
struct error_record {
    std::string error;
    std::string description;
    wall_time at;
};

/// A snapshot for status, metrics and the supervisor.
struct keeper_status {
    token_state state = token_state::starting;
    const held_token* token = nullptr; ///< the held token, usable or not
    std::optional<wall_time> next_refresh_at;
    std::optional<wall_time> last_refresh_at;
    std::optional<error_record> last_error;
    unsigned consecutive_failures = 0;
    std::uint64_t generation = 0;
    bool persisted = true;
    std::optional<std::string> persist_error;
};

/// Why a reader gets no token.
enum class refusal {
    none,
    no_token,           ///< none yet (starting)
    expired,            ///< held one is within serve_margin of expiry or past it
    reauth_required,    ///< Priava rejected the credential and the held token is spent
    refresh_failed,     ///< the refresh this reader waited for failed
    timed_out,          ///< the refresh this reader waited for did not finish in time
    lifetime_too_short, ///< even a fresh token has less than the asked min_ttl
    conflict,           ///< bootstrap refused: a working credential is held (no --force)
    rejected,           ///< bootstrap: Priava rejected the code
};

/// A reader's answer: a token (valid until the next suspension point) or a refusal.
struct token_answer {
    const held_token* token = nullptr;
    refusal why = refusal::none;
    std::string detail{};                ///< safe for clients: never a secret
    std::chrono::seconds retry_after{5}; ///< for 503's Retry-After
    std::string priava_error{};          ///< bootstrap: Priava's `error` for the code
};

} // namespace priava_tokend
