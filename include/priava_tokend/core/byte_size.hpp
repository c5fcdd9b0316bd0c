#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

/// Parses a size written as a whole number and a unit: `B`, `KiB`, `MiB`, `GiB` ("512KiB",
/// "8MiB"). Nothing for anything else, including a missing unit and values that overflow.
std::optional<std::uint64_t> parse_byte_size(std::string_view text);

/// The shortest exact spelling of `bytes` in those units ("8MiB", "1500B").
std::string format_byte_size(std::uint64_t bytes);

} // namespace priava_tokend
