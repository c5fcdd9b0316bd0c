#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

using milliseconds = std::chrono::milliseconds;

/// Parses a duration written as a non-negative integer and one unit: `ms`, `s`, `m` or `h`
/// ("100ms", "90s", "5m", "1h"). Returns nothing for anything else, including a missing unit,
/// signs, fractions, spaces and values that overflow.
std::optional<milliseconds> parse_duration(std::string_view text);

/// The shortest exact spelling of `d` in the units above ("1500ms", "90s", "5m").
std::string format_duration(milliseconds d);

/// A human reading of a span of whole seconds: "5h 59m 12s", "42s".
std::string describe_seconds(std::chrono::seconds s);

} // namespace priava_tokend
