#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/priava/retry_after.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>

namespace priava_tokend {
namespace {

namespace json = boost::json;

constexpr std::int64_t longest_lifetime = 10LL * 366 * 24 * 3600;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::optional<std::int64_t> whole_seconds(const json::value& v) {
    if (const auto* i = v.if_int64()) {
        return *i;
    }
    if (const auto* u = v.if_uint64()) {
        return *u > static_cast<std::uint64_t>(longest_lifetime) ? longest_lifetime + 1
                                                                 : static_cast<std::int64_t>(*u);
    }
    if (const auto* d = v.if_double()) {
        if (*d >= 0 && *d <= static_cast<double>(longest_lifetime) &&
            static_cast<double>(static_cast<std::int64_t>(*d)) == *d) {
            return static_cast<std::int64_t>(*d);
        }
    }
    return std::nullopt;
}

transient_failure malformed(unsigned status, std::string detail) {
    return transient_failure{errc::malformed_response, std::move(detail), status, std::nullopt,
                             std::nullopt};
}

token_outcome classify_success(std::string_view body) {
    const auto obj = parse_json_object(body);
    if (!obj) {
        return malformed(200, "HTTP 200 whose body is not a JSON object");
    }
    // Whatever else is wrong, a new refresh token in the reply replaces the consumed one.
    std::optional<secret> refresh;
    bool refresh_ok = true;
    if (const auto* r = obj->if_contains("refresh_token")) {
        const auto* s = r->if_string();
        refresh_ok = s != nullptr && !s->empty() && is_token_text(*s);
        if (refresh_ok) {
            refresh.emplace(std::string(*s));
        }
    }
    const auto fail = [&](std::string detail) {
        auto f = malformed(200, std::move(detail));
        f.rotated_refresh_token = std::move(refresh);
        return f;
    };
    const auto* access = obj->if_contains("access_token");
    if (access == nullptr || !access->is_string() || access->get_string().empty()) {
        return fail("HTTP 200 without a string access_token");
    }
    if (!is_token_text(access->get_string())) {
        return fail("HTTP 200 whose access_token holds characters a token may not");
    }
    if (!refresh_ok) {
        return fail("HTTP 200 whose refresh_token is not a non-empty token string");
    }
    const auto* expires = obj->if_contains("expires_in");
    const auto seconds = expires != nullptr ? whole_seconds(*expires) : std::nullopt;
    if (!seconds) {
        return fail("HTTP 200 without a whole-number expires_in");
    }
    if (*seconds <= 0 || *seconds > longest_lifetime) {
        return fail("HTTP 200 with expires_in " + std::to_string(*seconds) +
                    " outside 1 s to 10 years");
    }
    if (const auto* type = obj->if_contains("token_type")) {
        if (!type->is_string() || !iequals(type->get_string(), "bearer")) {
            return fail("HTTP 200 whose token_type is not Bearer");
        }
    }
    return token_set{secret{std::string(access->get_string())}, std::move(refresh),
                     std::chrono::seconds{*seconds}};
}

token_outcome classify_rejection(unsigned status, std::string_view body) {
    const auto obj = parse_json_object(body);
    rejection r{status, "http_" + std::to_string(status), {}};
    if (!obj) {
        r.description = "HTTP " + std::to_string(status) + " without a JSON error body";
        return r;
    }
    // As Priava sent them: whoever prints them redacts the secrets first, then cuts
    // (quote_outside_text); a cut first could leave a piece of a secret too short to find.
    if (const auto* e = string_field(*obj, "error")) {
        r.error = std::string(*e);
    }
    if (const auto* d = string_field(*obj, "error_description")) {
        r.description = std::string(*d);
    }
    return r;
}

} // namespace

bool is_token_text(std::string_view text) noexcept {
    return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c <= 0x7e; });
}

token_outcome classify_token_response(unsigned status, std::string_view body,
                                      std::string_view retry_after_header, wall_time now) {
    if (status == 200) {
        return classify_success(body);
    }
    if (status == 400 || status == 401) {
        return classify_rejection(status, body);
    }
    if (status == 429) {
        return transient_failure{errc::rate_limited, "HTTP 429 rate limited", status,
                                 priava_retry_after(body, retry_after_header, now), std::nullopt};
    }
    return transient_failure{errc::server_error, "HTTP " + std::to_string(status), status,
                             std::nullopt, std::nullopt};
}

} // namespace priava_tokend
