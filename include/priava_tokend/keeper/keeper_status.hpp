#pragma once

#include <priava_tokend/core/timestamp.hpp>
#include <priava_tokend/keeper/held_token.hpp>
#include <priava_tokend/keeper/token_state.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace priava_tokend {

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

} // namespace priava_tokend
