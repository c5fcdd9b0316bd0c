#include <priava_tokend/priava/form_encoding.hpp>

namespace priava_tokend {
namespace {

constexpr bool is_unreserved(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*' ||
           c == '-' || c == '.' || c == '_';
}

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

outcome<std::string> decode_component(std::string_view text, std::size_t offset) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%') {
            const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
            const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return make_failure(errc::malformed_response,
                                    "bad percent-escape at byte " + std::to_string(offset + i));
            }
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (is_unreserved(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            return make_failure(errc::malformed_response,
                                "unencoded character at byte " + std::to_string(offset + i));
        }
    }
    return out;
}

} // namespace

std::string form_urlencode(std::string_view value) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size() * 3);
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c)) {
            out.push_back(ch);
        } else if (c == ' ') {
            out.push_back('+');
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 0x0F]);
        }
    }
    return out;
}

void append_form_field(std::string& body, std::string_view name, std::string_view value) {
    if (!body.empty()) {
        body.push_back('&');
    }
    body += form_urlencode(name);
    body.push_back('=');
    body += form_urlencode(value);
}

outcome<form_fields> parse_form(std::string_view body) {
    form_fields fields;
    std::size_t start = 0;
    while (start <= body.size()) {
        const auto end = std::min(body.find('&', start), body.size());
        const std::string_view pair = body.substr(start, end - start);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) {
            return make_failure(errc::malformed_response,
                                "form field without '=' at byte " + std::to_string(start));
        }
        auto name = decode_component(pair.substr(0, eq), start);
        if (!name) {
            return name.error();
        }
        auto value = decode_component(pair.substr(eq + 1), start + eq + 1);
        if (!value) {
            return value.error();
        }
        fields.emplace_back(std::move(*name), std::move(*value));
        start = end + 1;
    }
    return fields;
}

} // namespace priava_tokend
