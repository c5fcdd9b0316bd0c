#pragma once

#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/core/timestamp.hpp>

#include <chrono>
#include <cstdint>

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

} // namespace priava_tokend
