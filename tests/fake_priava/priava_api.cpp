#include "priava_api.hpp"

#include <priava_tokend/core/sha256.hpp>

#include <boost/json/array.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <optional>
#include <string>

namespace priava_tokend::testing {

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

struct event {
    std::string_view id;
    std::string_view name;
    std::string_view venue;
};

constexpr std::array<event, 3> events{{
    {"1001", "Winter Gala", "Grand Ballroom"},
    {"1002", "Product Launch", "Harbour Room"},
    {"1003", "Annual Conference", "Main Hall"},
}};

json::object event_json(const event& e) {
    return {{"id", e.id}, {"name", e.name}, {"venue", e.venue}};
}

/// The bearer token, case-insensitive scheme as RFC 6750 allows; empty when there is none.
std::string_view bearer_token(const http_request& req) {
    const std::string_view auth = req[http::field::authorization];
    constexpr std::string_view scheme = "bearer ";
    if (auth.size() <= scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), auth.begin(), [](char a, char b) {
            return a == std::tolower(static_cast<unsigned char>(b));
        })) {
        return {};
    }
    return auth.substr(scheme.size());
}

std::optional<fake_answer> refused(const http_request& req, const token_grants& grants,
                                   const fake_priava_options& options, fake_priava_stats& stats) {
    const auto token = bearer_token(req);
    if (token.empty() || !grants.accepts_access_token(token)) {
        ++stats.api_unauthorized;
        auto a = error_answer(req, 401, "invalid_token",
                              "missing, unknown, expired or revoked access token");
        a.reply.response.set(http::field::www_authenticate, "Bearer error=\"invalid_token\"");
        return a;
    }
    if (req.count("TenantRegion") != 1 || req["TenantRegion"] != options.region) {
        return error_answer(req, 400, "invalid_request", "TenantRegion missing or wrong");
    }
    return std::nullopt;
}

fake_answer wrong_method(const http_request& req, std::string_view allow) {
    auto a = error_answer(req, 405, "method_not_allowed", "use " + std::string(allow));
    a.reply.response.set(http::field::allow, allow);
    return a;
}

fake_answer not_found(const http_request& req) {
    return error_answer(req, 404, "not_found", "no such resource");
}

fake_answer list_events(const http_request& req, std::string_view query) {
    json::array list;
    for (const auto& e : events) {
        list.push_back(event_json(e));
    }
    return json_answer(req, 200, {{"events", std::move(list)}, {"query", query}});
}

fake_answer one_event(const http_request& req, std::string_view id) {
    const auto* it =
        std::find_if(events.begin(), events.end(), [&](const event& e) { return e.id == id; });
    return it == events.end() ? not_found(req) : json_answer(req, 200, event_json(*it));
}

fake_answer echo(const http_request& req, std::string_view query) {
    json::object headers;
    for (const auto& field : req) {
        const bool auth = field.name() == http::field::authorization;
        headers[std::string(field.name_string())] = auth ? "valid" : field.value();
    }
    return json_answer(req, 200,
                       {{"method", req.method_string()},
                        {"query", query},
                        {"bytes", req.body().size()},
                        {"sha256", sha256_hex(req.body())},
                        {"headers", std::move(headers)}});
}

fake_answer bytes(const http_request& req, std::string_view query) {
    constexpr std::string_view name = "count=";
    std::uint64_t count = 0;
    const char* end = query.data() + query.size();
    if (!query.starts_with(name) ||
        std::from_chars(query.data() + name.size(), end, count) !=
            std::from_chars_result{end, std::errc{}} ||
        count > api_bytes_limit) {
        return error_answer(req, 400, "invalid_request", "bytes needs ?count=N, N <= 256 MiB");
    }
    std::string body(count, '\0');
    for (std::uint64_t i = 0; i < count; ++i) {
        body[i] = static_cast<char>(i % 251);
    }
    return make_answer(req, http::status::ok, "application/octet-stream", std::move(body));
}

fake_answer dispatch(const http_request& req, std::string_view path, std::string_view query,
                     const fake_priava_options& options, fake_priava_stats& stats) {
    const auto method = req.method();
    if (path == "broken" && method == http::verb::get) {
        // `bytes`, but only half of it is sent before the connection closes: an upstream reset
        // in the middle of a body.
        auto a = bytes(req, query);
        a.reply.how = delivery::half_then_close;
        return a;
    }
    if (path == "ping" || path == "events" || path.starts_with("events/") || path == "bytes") {
        if (method != http::verb::get) {
            return wrong_method(req, "GET");
        }
        if (path == "ping") {
            ++stats.ping_ok;
            return json_answer(req, 200, {{"ok", true}, {"region", options.region}});
        }
        if (path == "events") {
            return list_events(req, query);
        }
        return path == "bytes" ? bytes(req, query) : one_event(req, path.substr(7));
    }
    if (path == "echo") {
        const bool body_method =
            method == http::verb::post || method == http::verb::put || method == http::verb::patch;
        return body_method ? echo(req, query) : wrong_method(req, "POST, PUT, PATCH");
    }
    return not_found(req);
}

} // namespace

fake_answer answer_api(const http_request& req, const token_grants& grants,
                       const fake_priava_options& options, fake_priava_stats& stats) {
    ++stats.api_requests;
    if (auto refusal = refused(req, grants, options, stats)) {
        return std::move(*refusal);
    }
    std::string_view target = req.target();
    const auto question = target.find('?');
    const std::string_view query =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    target = target.substr(0, question);
    auto a = dispatch(req, target.substr(std::min(target.size(), api_prefix.size())), query,
                      options, stats);
    if (a.reply.response.result_int() < 300) {
        ++stats.api_ok;
    }
    return a;
}

} // namespace priava_tokend::testing
