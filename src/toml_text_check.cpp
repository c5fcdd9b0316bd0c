#include <priava_tokend/toml_text_check.hpp>

namespace priava_tokend {

std::optional<std::size_t> line_with_unsafe_non_ascii(std::string_view text) noexcept {
    enum class in { toml, comment, basic, literal, multi_basic, multi_literal };
    in state = in::toml;
    std::size_t line = 1;
    const auto at = [&](std::size_t i, std::string_view what) {
        return text.substr(i, what.size()) == what;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') {
            ++line;
            if (state != in::multi_basic && state != in::multi_literal) {
                state = in::toml; // a one-line string or comment ends here (or is an error)
            }
            continue;
        }
        const bool ascii = static_cast<unsigned char>(c) < 0x80;
        switch (state) {
        case in::toml:
            if (!ascii) {
                return line;
            }
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
            if (!ascii) {
                return line;
            }
            if (c == '\\') {
                ++i;
                if (i < text.size() && static_cast<unsigned char>(text[i]) >= 0x80) {
                    return line;
                }
                if (i < text.size() && text[i] == '\n') {
                    ++line;
                }
            } else if (at(i, R"(""")")) {
                state = in::toml;
                i += 2;
            }
            break;
        case in::multi_literal:
            if (!ascii) {
                return line;
            }
            if (at(i, "'''")) {
                state = in::toml;
                i += 2;
            }
            break;
        }
    }
    return std::nullopt;
}

} // namespace priava_tokend
