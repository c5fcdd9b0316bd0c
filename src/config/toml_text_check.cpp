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

/// A lexical scan of TOML text that finds the first non-ASCII byte outside a one-line string or
/// a comment. Exact only for text whose structure is valid TOML.
class non_ascii_scan {
  public:
    explicit non_ascii_scan(std::string_view text) noexcept
        : text_(text) {}

    std::optional<position> run() noexcept {
        for (i_ = 0; i_ < text_.size(); ++i_) {
            const char c = text_[i_];
            if (c == '\n') {
                new_line(i_);
                if (state_ != in::multi_basic && state_ != in::multi_literal) {
                    state_ = in::toml;
                }
                continue;
            }
            const bool in_one_line =
                state_ == in::comment || state_ == in::basic || state_ == in::literal;
            if ((!is_ascii(c) && !in_one_line) || !step(c)) {
                return here(i_);
            }
        }
        return std::nullopt;
    }

  private:
    enum class in { toml, comment, basic, literal, multi_basic, multi_literal };

    bool at(std::string_view what) const noexcept { return text_.substr(i_, what.size()) == what; }
    position here(std::size_t i) const noexcept { return position{line_, i - line_start_ + 1}; }
    void new_line(std::size_t at_newline) noexcept {
        ++line_;
        line_start_ = at_newline + 1;
    }

    /// Moves past `c` (and what it opens or closes); false at a non-ASCII byte that must not be.
    bool step(char c) noexcept {
        switch (state_) {
        case in::toml:
            opening(c);
            return true;
        case in::comment:
            return true;
        case in::basic:
            if (c == '\\') {
                ++i_; // the escaped character cannot end the string
            } else if (c == '"') {
                state_ = in::toml;
            }
            return true;
        case in::literal:
            state_ = c == '\'' ? in::toml : state_;
            return true;
        case in::multi_basic:
            return multi_basic(c);
        case in::multi_literal:
            closing("'''");
            return true;
        }
        return true;
    }

    void opening(char c) noexcept {
        if (at(R"(""")")) {
            state_ = in::multi_basic;
            i_ += 2;
        } else if (at("'''")) {
            state_ = in::multi_literal;
            i_ += 2;
        } else if (c == '"') {
            state_ = in::basic;
        } else if (c == '\'') {
            state_ = in::literal;
        } else if (c == '#') {
            state_ = in::comment;
        }
    }

    void closing(std::string_view delimiter) noexcept {
        if (at(delimiter)) {
            state_ = in::toml;
            i_ += delimiter.size() - 1;
        }
    }

    /// toml++ tests the character after a line-ending backslash for white space: it must be ASCII.
    bool multi_basic(char c) noexcept {
        if (c != '\\') {
            closing(R"(""")");
            return true;
        }
        ++i_;
        if (i_ < text_.size() && !is_ascii(text_[i_])) {
            return false;
        }
        if (i_ < text_.size() && text_[i_] == '\n') {
            new_line(i_);
        }
        return true;
    }

    std::string_view text_;
    in state_ = in::toml;
    std::size_t i_ = 0;
    std::size_t line_ = 1;
    std::size_t line_start_ = 0;
};

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
    if (const auto at = non_ascii_scan(toml_text.substr(body)).run()) {
        const std::size_t column = at->column + (at->line == 1 ? body : 0);
        return toml_text_problem{at->line, column, std::string(non_ascii_outside)};
    }
    return std::nullopt;
}

} // namespace priava_tokend
