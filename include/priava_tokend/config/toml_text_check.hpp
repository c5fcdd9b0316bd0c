#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

/// Why TOML text must not be given to toml++, and where.
struct toml_text_problem {
    std::size_t line = 0;   ///< 1-based
    std::size_t column = 0; ///< 1-based, in bytes
    std::string description;
};

/// Finds text that toml++ 3.2 (Debian 12) cannot be trusted to parse.
///
/// toml++ 3.2 reaches `__builtin_unreachable` when it tests some non-ASCII characters for
/// whitespace, which it does wherever it scans outside a string: in a bare key, in a bare value
/// such as `5"Å"`, and after a line-ending backslash in a multi-line basic string (all found by
/// the config fuzzer). TOML allows non-ASCII only in strings and comments, so the check parses a
/// copy with every non-ASCII byte replaced by `@`, a character TOML allows nowhere else: a syntax
/// error there is reported here, naming a non-ASCII character when that is what it stopped at.
/// When the copy parses, every non-ASCII byte is in a string or a comment; multi-line strings
/// are then refused any, since no config value needs one.
std::optional<toml_text_problem> check_toml_text(std::string_view toml_text);

} // namespace priava_tokend
