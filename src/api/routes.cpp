#include <priava_tokend/api/routes.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/proxy/upstream_target.hpp>

#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <array>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
namespace urls = boost::urls;

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

/// Fills `r.query` from `min_ttl`, `newer_than` and `wait`; anything else is a bad request.
void parse_token_query(const urls::params_encoded_view& params, route& r) {
    const auto fail = [&](std::string why) {
        r.outcome = route::verdict::bad_request;
        r.problem = std::move(why);
    };
    bool wait_given = false;
    for (const auto encoded : params) {
        const urls::param param{encoded.key.decode(), encoded.value.decode(), encoded.has_value};
        if (param.key.empty() && !param.has_value) {
            continue; // "a&&b", a trailing "&"
        }
        const auto value = parse_number<std::uint64_t>(param.value);
        if (param.key == "min_ttl") {
            if (!value || *value > static_cast<std::uint64_t>(largest_min_ttl.count())) {
                return fail("min_ttl must be a whole number of seconds up to 86400");
            }
            r.query.min_ttl = std::chrono::seconds{static_cast<std::int64_t>(*value)};
        } else if (param.key == "newer_than") {
            if (!value) {
                return fail("newer_than must be a generation number");
            }
            r.query.newer_than = *value;
        } else if (param.key == "wait") {
            if (!value || *value > static_cast<std::uint64_t>(longest_long_poll.count())) {
                return fail("wait must be a whole number of seconds up to 300");
            }
            r.query.wait = std::chrono::seconds{static_cast<std::int64_t>(*value)};
            wait_given = true;
        } else {
            return fail("unknown query parameter '" + param.key.substr(0, 40) +
                        "'; /v1/token takes min_ttl, or newer_than and wait");
        }
    }
    if (wait_given && !r.query.newer_than) {
        return fail("wait is only meaningful with newer_than");
    }
    if (r.query.min_ttl && r.query.newer_than) {
        fail("use either min_ttl or newer_than, not both");
    }
}

} // namespace

std::string_view to_string(api_path path) noexcept {
    if (path == api_path::proxy) {
        return "/v1/proxy";
    }
    for (const auto& k : known_paths) {
        if (k.path == path) {
            return k.text;
        }
    }
    return "other";
}

route route_request(http::verb method, std::string_view target) {
    route r;
    if (target.starts_with(proxy_route_prefix) ||
        (!target.starts_with('/') && target.find(proxy_route_prefix) != std::string_view::npos)) {
        // An absolute-form proxy target reaches the proxy too, which refuses it with a 400.
        r.path = api_path::proxy; // any method; the proxy checks the rest of the target
        return r;
    }
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    const auto known = std::find_if(known_paths.begin(), known_paths.end(),
                                    [&](const known_path& k) { return k.text == path; });
    if (known == known_paths.end()) {
        r.outcome = route::verdict::not_found;
        return r;
    }
    r.path = known->path;
    if (method != known->method) {
        r.outcome = route::verdict::method_not_allowed;
        r.allow = known->allow;
    } else if (known->path == api_path::token && !query.empty()) {
        if (const auto params = urls::parse_query(query)) {
            parse_token_query(*params, r);
        } else {
            r.outcome = route::verdict::bad_request;
            r.problem = "the query is not valid (" + params.error().message() + ")";
        }
    } else if (!query.empty()) {
        r.outcome = route::verdict::bad_request;
        r.problem = std::string(known->text) + " takes no query parameters";
    }
    return r;
}

} // namespace priava_tokend
