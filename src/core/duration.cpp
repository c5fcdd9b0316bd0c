#include <priava_tokend/core/duration.hpp>

#include <charconv>
#include <cstdint>
#include <limits>

namespace priava_tokend {

std::optional<milliseconds> parse_duration(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
        ++digits;
    }
    if (digits == 0) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc{} || end != text.data() + digits) {
        return std::nullopt;
    }
    const std::string_view unit = text.substr(digits);
    std::uint64_t scale = 0;
    if (unit == "ms") {
        scale = 1;
    } else if (unit == "s") {
        scale = 1000;
    } else if (unit == "m") {
        scale = 60'000;
    } else if (unit == "h") {
        scale = 3'600'000;
    } else {
        return std::nullopt;
    }
    // Cap at about 292 years worth of milliseconds so the result fits a signed 64-bit count.
    if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / scale) {
        return std::nullopt;
    }
    return milliseconds{static_cast<std::int64_t>(value * scale)};
}

std::string format_duration(milliseconds d) {
    const auto ms = d.count();
    if (ms != 0 && ms % 3'600'000 == 0) {
        return std::to_string(ms / 3'600'000) + "h";
    }
    if (ms != 0 && ms % 60'000 == 0) {
        return std::to_string(ms / 60'000) + "m";
    }
    if (ms % 1000 == 0) {
        return std::to_string(ms / 1000) + "s";
    }
    return std::to_string(ms) + "ms";
}

std::string describe_seconds(std::chrono::seconds s) {
    auto left = s.count();
    std::string out;
    if (left < 0) {
        out = "-";
        left = -left;
    }
    const auto hours = left / 3600;
    const auto minutes = (left % 3600) / 60;
    const auto seconds = left % 60;
    if (hours > 0) {
        out += std::to_string(hours) + "h " + std::to_string(minutes) + "m ";
    } else if (minutes > 0) {
        out += std::to_string(minutes) + "m ";
    }
    out += std::to_string(seconds) + "s";
    return out;
}

} // namespace priava_tokend
