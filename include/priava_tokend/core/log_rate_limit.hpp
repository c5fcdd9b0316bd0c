#pragma once

#include <chrono>
#include <cstddef>

namespace priava_tokend {

/// Bounds a kind of log line an outsider can cause at will (a refused connection): at most
/// `burst` lines per `window`, the rest only counted, so that a flood cannot push real errors
/// out of the journal. The count of the lines held back is told with the next line let through,
/// or taken at the end (`take_held_back`).
class log_rate_limit {
  public:
    using clock = std::chrono::steady_clock;

    log_rate_limit(std::size_t burst, clock::duration window) noexcept
        : burst_(burst)
        , window_(window) {}

    /// Whether a line may be written at `now`; if so, `held_back` is how many were not written
    /// since the last one that was.
    bool admit(clock::time_point now, std::size_t& held_back) noexcept;

    /// How many lines were held back since the last one written; resets the count.
    std::size_t take_held_back() noexcept;

  private:
    std::size_t burst_;
    clock::duration window_;
    clock::time_point window_start_{};
    std::size_t written_in_window_ = 0;
    std::size_t held_back_ = 0;
};

} // namespace priava_tokend
