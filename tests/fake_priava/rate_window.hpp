#pragma once

#include <chrono>
#include <optional>

namespace priava_tokend::testing {

/// Priava's rate limit: at most `limit` requests of one credential in each fixed window of
/// `length` (450 per 5 minutes), the windows aligned to whole multiples of `length` since the
/// Unix epoch, so a 300 s window starts at :00, :05, ... of UTC. A request over the limit is
/// refused and not counted. The time is passed in, so tests step it by hand.
class rate_window {
  public:
    using clock = std::chrono::system_clock;

    /// `limit` 0: no limit (every request is admitted and counted).
    rate_window(unsigned limit, std::chrono::milliseconds length);

    /// Counts a request at `now`; when the window is full, nothing is counted and the end of
    /// the current window (when a request is admitted again) is returned.
    std::optional<clock::time_point> admit(clock::time_point now);

    /// New limits from now on. What the current window counted stays counted, in the window of
    /// the new length that holds the current one's start.
    void set(unsigned limit, std::chrono::milliseconds length);

    unsigned limit() const noexcept { return limit_; }
    std::chrono::milliseconds length() const noexcept { return length_; }
    /// Requests admitted in the window holding `now`.
    unsigned in_window(clock::time_point now) const;
    /// The most requests admitted in any one window so far.
    unsigned most_in_one_window() const noexcept { return most_; }

  private:
    clock::time_point window_start(clock::time_point now) const;

    unsigned limit_;
    std::chrono::milliseconds length_;
    clock::time_point current_start_{};
    unsigned count_ = 0;
    unsigned most_ = 0;
};

} // namespace priava_tokend::testing
