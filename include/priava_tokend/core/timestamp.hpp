#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

using wall_time = std::chrono::system_clock::time_point;

/// `2026-11-25T22:05:33Z` (whole seconds, UTC).
std::string format_rfc3339(wall_time t);

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `T` may be a space or `t`. Nothing otherwise.
std::optional<wall_time> parse_rfc3339(std::string_view text);

/// Parses the `retry-after` field of Priava's 429 body: a date and time without a time zone
/// (`2026-11-25T22:10:00`, `2026-11-25 22:10:00.123`). Read as UTC; an explicit zone is honoured
/// if one is present after all.
std::optional<wall_time> parse_priava_retry_after(std::string_view text);

/// Seconds since the Unix epoch, for metrics.
double unix_seconds(wall_time t);

} // namespace priava_tokend
