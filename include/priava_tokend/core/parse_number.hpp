#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <type_traits>

namespace priava_tokend {

/// `text` as a number of type T when it is that and nothing else: no sign unless T is signed, no
/// space, no trailing characters, no overflow. `base` 8 reads file modes; a floating-point T is
/// read in decimal whatever `base` says.
template <class T>
requires std::is_arithmetic_v<T> std::optional<T> parse_number(std::string_view text, int base = 10)
noexcept {
    T value{};
    const auto [end, ec] = [&] {
        if constexpr (std::is_floating_point_v<T>) {
            return std::from_chars(text.data(), text.data() + text.size(), value);
        } else {
            return std::from_chars(text.data(), text.data() + text.size(), value, base);
        }
    }();
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

} // namespace priava_tokend
