#include <priava_tokend/config/toml_text_check.hpp>

#include <toml++/toml.h>

#include <algorithm>

namespace priava_tokend {
namespace {

bool is_ascii(char c) noexcept {
    return static_cast<unsigned char>(c) < 0x80;
}

constexpr std::string_view byte_order_mark = "\xEF\xBB\xBF"; // toml++ skips it

struct position {
    std::size_t line;
    std::size_t column;
};

/// Where the first non-ASCII byte outside a one-line string or a comment is, scanning the text
/// lexically. Exact only for text whose structure is valid TOML.
std::optional<position> non_ascii_outside_one_line_strings(std::string_view text) noexcept {
    enum class in { toml, comment, basic, literal, multi_basic, multi_literal };
    in state = in::toml;
    std::size_t line = 1;
    std::size_t line_start = 0;
    const auto here = [&](std::size_t i) {
        return position{line, i - line_start + 1};
    };
    const auto at = [&](std::size_t i, std::string_view what) {
        return text.substr(i, what.size()) == what;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') {
            ++line;
            line_start = i + 1;
            if (state != in::multi_basic && state != in::multi_literal) {
                state = in::toml;
            }
            continue;
        }
        const bool in_one_line = state == in::comment || state == in::basic || state == in::literal;
        if (!is_ascii(c) && !in_one_line) {
            return here(i);
        }
        switch (state) {
        case in::toml:
            if (at(i, R"(""")")) {
                state = in::multi_basic;
                i += 2;
            } else if (at(i, "'''")) {
                state = in::multi_literal;
                i += 2;
            } else if (c == '"') {
                state = in::basic;
            } else if (c == '\'') {
                state = in::literal;
            } else if (c == '#') {
                state = in::comment;
            }
            break;
        case in::comment:
            break;
        case in::basic:
            if (c == '\\') {
                ++i; // the escaped character cannot end the string
            } else if (c == '"') {
                state = in::toml;
            }
            break;
        case in::literal:
            if (c == '\'') {
                state = in::toml;
            }
            break;
        case in::multi_basic:
            if (c == '\\') {
                ++i;
                if (i < text.size() && !is_ascii(text[i])) {
                    return here(i);
                }
                if (i < text.size() && text[i] == '\n') {
                    ++line;
                    line_start = i + 1;
                }
            } else if (at(i, R"(""")")) {
                state = in::toml;
                i += 2;
            }
            break;
        case in::multi_literal:
            if (at(i, "'''")) {
                state = in::toml;
                i += 2;
            }
            break;
        }
    }
    return std::nullopt;
}

/// The byte at a 1-based line and column, if the text has one there.
std::optional<char> byte_at(std::string_view text, std::size_t line, std::size_t column) {
    std::size_t start = 0;
    for (std::size_t l = 1; l < line; ++l) {
        start = text.find('\n', start);
        if (start == std::string_view::npos) {
            return std::nullopt;
        }
        ++start;
    }
    if (column == 0 || start + column - 1 >= text.size()) {
        return std::nullopt;
    }
    return text[start + column - 1];
}

constexpr std::string_view non_ascii_outside =
    "a non-ASCII character outside a quoted one-line string or a comment";

} // namespace

std::optional<toml_text_problem> check_toml_text(std::string_view toml_text) {
    const std::size_t body = toml_text.starts_with(byte_order_mark) ? byte_order_mark.size() : 0;
    std::string masked(toml_text);
    std::replace_if(
        masked.begin() + static_cast<std::ptrdiff_t>(body), masked.end(),
        [](char c) { return !is_ascii(c); }, '@');
    try {
        static_cast<void>(toml::parse(masked));
    } catch (const toml::parse_error& e) {
        const auto line = static_cast<std::size_t>(e.source().begin.line);
        const auto column = static_cast<std::size_t>(e.source().begin.column);
        const auto there = byte_at(toml_text, line, column);
        if (there && !is_ascii(*there)) {
            return toml_text_problem{line, column, std::string(non_ascii_outside)};
        }
        return toml_text_problem{line, column, std::string(e.description())};
    }
    if (const auto at = non_ascii_outside_one_line_strings(toml_text.substr(body))) {
        const std::size_t column = at->column + (at->line == 1 ? body : 0);
        return toml_text_problem{at->line, column, std::string(non_ascii_outside)};
    }
    return std::nullopt;
}

} // namespace priava_tokend
