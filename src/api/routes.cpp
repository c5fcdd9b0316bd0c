#include <priava_tokend/api/routes.hpp>

#include <array>
#include <charconv>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;

struct known_path {
    std::string_view text;
    api_path path;
    http::verb method;
    std::string_view allow;
};

constexpr std::array<known_path, 8> known_paths{{
    {"/v1/token", api_path::token, http::verb::get, "GET"},
    {"/v1/token/refresh", api_path::token_refresh, http::verb::post, "POST"},
    {"/v1/bootstrap", api_path::bootstrap, http::verb::post, "POST"},
    {"/v1/status", api_path::status, http::verb::get, "GET"},
    {"/livez", api_path::livez, http::verb::get, "GET"},
    {"/healthz", api_path::healthz, http::verb::get, "GET"},
    {"/readyz", api_path::readyz, http::verb::get, "GET"},
    {"/metrics", api_path::metrics, http::verb::get, "GET"},
}};

std::optional<std::uint64_t> whole_number(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

/// Fills `r.query` from `min_ttl`, `newer_than` and `wait`; anything else is a bad request.
void parse_token_query(std::string_view query, route& r) {
    bool wait_given = false;
    while (!query.empty()) {
        const auto amp = std::min(query.find('&'), query.size());
        const std::string_view pair = query.substr(0, amp);
        query = amp < query.size() ? query.substr(amp + 1) : std::string_view{};
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        const std::string_view name = pair.substr(0, eq);
        const std::string_view text = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
        const auto value = whole_number(text);
        const auto fail = [&](std::string why) {
            r.outcome = route::verdict::bad_request;
            r.problem = std::move(why);
        };
        if (name == "min_ttl") {
            if (!value || *value > static_cast<std::uint64_t>(largest_min_ttl.count())) {
                return fail("min_ttl must be a whole number of seconds up to 86400");
            }
            r.query.min_ttl = std::chrono::seconds{static_cast<std::int64_t>(*value)};
        } else if (name == "newer_than") {
            if (!value) {
                return fail("newer_than must be a generation number");
            }
            r.query.newer_than = *value;
        } else if (name == "wait") {
            if (!value || *value > static_cast<std::uint64_t>(longest_long_poll.count())) {
                return fail("wait must be a whole number of seconds up to 300");
            }
            r.query.wait = std::chrono::seconds{static_cast<std::int64_t>(*value)};
            wait_given = true;
        } else {
            return fail("unknown query parameter '" + std::string(name.substr(0, 40)) +
                        "'; /v1/token takes min_ttl, or newer_than and wait");
        }
    }
    if (wait_given && !r.query.newer_than) {
        r.outcome = route::verdict::bad_request;
        r.problem = "wait is only meaningful with newer_than";
        return;
    }
    if (r.query.min_ttl && r.query.newer_than) {
        r.outcome = route::verdict::bad_request;
        r.problem = "use either min_ttl or newer_than, not both";
    }
}

} // namespace

std::string_view to_string(api_path path) noexcept {
    for (const auto& k : known_paths) {
        if (k.path == path) {
            return k.text;
        }
    }
    return "other";
}

route route_request(http::verb method, std::string_view target) {
    route r;
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    for (const auto& k : known_paths) {
        if (k.text != path) {
            continue;
        }
        r.path = k.path;
        if (method != k.method) {
            r.outcome = route::verdict::method_not_allowed;
            r.allow = k.allow;
            return r;
        }
        if (k.path == api_path::token) {
            parse_token_query(query, r);
        } else if (!query.empty()) {
            r.outcome = route::verdict::bad_request;
            r.problem = std::string(k.text) + " takes no query parameters";
        }
        return r;
    }
    r.outcome = route::verdict::not_found;
    return r;
}

} // namespace priava_tokend
