#include "rate_window.hpp"

#include <algorithm>
#include <stdexcept>

namespace priava_tokend::testing {

rate_window::rate_window(unsigned limit, std::chrono::milliseconds length)
    : limit_(limit)
    , length_(length) {
    if (length_.count() <= 0) {
        throw std::invalid_argument("rate window length must be positive");
    }
}

rate_window::clock::time_point rate_window::window_start(clock::time_point now) const {
    const auto since_epoch =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    const auto start = since_epoch - since_epoch % length_;
    return clock::time_point{std::chrono::duration_cast<clock::duration>(start)};
}

std::optional<rate_window::clock::time_point> rate_window::admit(clock::time_point now) {
    const auto start = window_start(now);
    if (start != current_start_) {
        current_start_ = start;
        count_ = 0;
    }
    if (limit_ != 0 && count_ >= limit_) {
        return start + length_;
    }
    ++count_;
    most_ = std::max(most_, count_);
    return std::nullopt;
}

void rate_window::set(unsigned limit, std::chrono::milliseconds length) {
    if (length.count() <= 0) {
        throw std::invalid_argument("rate window length must be positive");
    }
    limit_ = limit;
    length_ = length;
    current_start_ = window_start(current_start_);
}

unsigned rate_window::in_window(clock::time_point now) const {
    return window_start(now) == current_start_ ? count_ : 0;
}

} // namespace priava_tokend::testing
