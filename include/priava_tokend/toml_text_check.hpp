#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace priava_tokend {

/// The line (1-based) of the first non-ASCII byte outside a one-line string or a comment.
///
/// toml++ 3.2 (Debian 12) reaches `__builtin_unreachable` when it tests some non-ASCII
/// characters for whitespace: in a bare key, or in a multi-line basic string after a
/// backslash (found by the config fuzzer). TOML allows non-ASCII only in strings and comments,
/// so text with one anywhere else is invalid anyway; the config loader refuses it before toml++
/// sees it. Multi-line strings are refused any non-ASCII; no config value needs one.
std::optional<std::size_t> line_with_unsafe_non_ascii(std::string_view toml_text) noexcept;

} // namespace priava_tokend
