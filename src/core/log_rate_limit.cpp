#include <priava_tokend/core/log_rate_limit.hpp>

namespace priava_tokend {

bool log_rate_limit::admit(clock::time_point now, std::size_t& held_back) noexcept {
    if (written_in_window_ == 0 || now - window_start_ >= window_) {
        window_start_ = now;
        written_in_window_ = 0;
    }
    if (written_in_window_ >= burst_) {
        ++held_back_;
        return false;
    }
    ++written_in_window_;
    held_back = take_held_back();
    return true;
}

std::size_t log_rate_limit::take_held_back() noexcept {
    const std::size_t n = held_back_;
    held_back_ = 0;
    return n;
}

} // namespace priava_tokend
