#include <priava_tokend/priava/form_encoding.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/pct_string_view.hpp>

namespace priava_tokend {
namespace {

namespace urls = boost::urls;

/// What a form value may hold unescaped (the WHATWG form-urlencoded set RFC 6749 appendix B
/// points to): ALPHA, DIGIT and `*-._`. Everything else is escaped, space as `+`.
constexpr urls::grammar::lut_chars
    form_unreserved("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._");

constexpr bool is_hex(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

failure malformed(std::string what, std::size_t at) {
    return make_failure(errc::malformed_response, what + " at byte " + std::to_string(at));
}

/// Checks one `name=value` pair at `offset` of the body: only what `form_urlencode` emits.
outcome<void> check_pair(std::string_view pair, std::size_t offset) {
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
        return malformed("form field without '='", offset);
    }
    for (std::size_t i = 0; i < pair.size(); ++i) {
        const char c = pair[i];
        if (c == '%') {
            if (i + 2 >= pair.size() || !is_hex(pair[i + 1]) || !is_hex(pair[i + 2])) {
                return malformed("bad percent-escape", offset + i);
            }
            i += 2;
        } else if (!form_unreserved(static_cast<unsigned char>(c)) && c != '+' && i != eq) {
            return malformed("unencoded character", offset + i);
        }
    }
    return {};
}

std::string decode(std::string_view encoded) {
    urls::encoding_opts opt;
    opt.space_as_plus = true;
    return urls::pct_string_view(encoded).decode(opt);
}

} // namespace

std::string form_urlencode(std::string_view value) {
    urls::encoding_opts opt;
    opt.space_as_plus = true;
    return urls::encode(value, form_unreserved, opt);
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
        if (auto ok = check_pair(pair, start); !ok) {
            return ok.error();
        }
        const auto eq = pair.find('=');
        fields.emplace_back(decode(pair.substr(0, eq)), decode(pair.substr(eq + 1)));
        start = end + 1;
    }
    return fields;
}

} // namespace priava_tokend
