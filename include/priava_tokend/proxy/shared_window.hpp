#pragma once

#include <priava_tokend/core/asio.hpp>

#include <chrono>
#include <string>

namespace priava_tokend {

/// The budget of requests to Priava shared with other daemons (cluster mode, docs/cluster.md):
/// every request any of them sends counts in one window, and a pause after Priava's 429 holds
/// for all of them. Drawn from after the local budget granted a request, right before it is sent.
class shared_window {
  public:
    virtual ~shared_window() = default;

    struct draw_result {
        bool granted = false;
        bool unavailable = false; ///< the shared budget could not be read: nothing may be sent
        std::chrono::system_clock::time_point retry_at; ///< when not granted: the next chance
    };

    /// A place for one request in the shared window, waiting for one until `until` at most
    /// (through a pause, or until the oldest request leaves a full window).
    virtual net::awaitable<draw_result> draw(std::chrono::steady_clock::time_point until) = 0;

    /// Priava answered 429: no daemon sends before `until`.
    virtual net::awaitable<void> pause(std::chrono::system_clock::time_point until) = 0;
};

} // namespace priava_tokend
