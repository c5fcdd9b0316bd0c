#include "fake_priava.hpp"

#include "fake_answer.hpp"
#include "fake_priava_server.hpp"
#include "priava_api.hpp"
#include "rate_window.hpp"
#include "token_grants.hpp"

#include <priava_tokend/priava/form_encoding.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <deque>
#include <optional>

namespace priava_tokend::testing {

namespace detail {

struct fake_priava_state {
    fake_priava_state(net::ssl::context* context, fake_priava_options opts)
        : tls(context)
        , options(std::move(opts)) {}

    net::ssl::context* tls;
    fake_priava_options options;
    fake_priava_stats stats;
    token_grants grants{options, stats};
    fault_queue faults;
    rate_window rate{options.rate_limit, options.rate_window};
    std::deque<std::optional<std::string>> api_429s; ///< see `answer_api_429s`
    std::optional<fake_priava_server> server;        ///< set right after construction
};

} // namespace detail

namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace detail;

constexpr std::size_t oversized_body = 100 * 1024;
constexpr std::string_view ping_path = "/api/rest/ping";

/// Bodies the token endpoint takes; the API takes larger ones.
constexpr std::uint64_t token_body_limit = 8 * 1024;

/// Priava's success body, field for field; without `access_token` for `malformed_with_refresh`.
std::string token_body(const issued_tokens& tokens, bool with_access) {
    json::object body;
    if (with_access) {
        body["access_token"] = tokens.access_token;
    }
    if (tokens.refresh_token) {
        body["refresh_token"] = *tokens.refresh_token;
    }
    body["token_type"] = "BEARER";
    body["expires_in"] = tokens.expires_in.count();
    return json::serialize(body);
}

fake_answer status_answer(const http_request& req, unsigned status) {
    const std::string_view error = status >= 500   ? "server_error"
                                   : status == 401 ? "invalid_client"
                                                   : "invalid_request";
    return error_answer(req, status, error, "injected HTTP " + std::to_string(status));
}

/// The grant type for the log line, only when it is one of the two Priava knows.
std::string_view logged_grant_type(const http_request& req) {
    if (const auto fields = parse_form(req.body())) {
        for (const auto& [name, value] : *fields) {
            if (name == "grant_type" && value == "authorization_code") {
                return "authorization_code";
            }
            if (name == "grant_type" && value == "refresh_token") {
                return "refresh_token";
            }
        }
    }
    return "-";
}

void record(fake_priava_stats& stats, const http_request& req) {
    stats.last_content_type = std::string(req[http::field::content_type]);
    stats.last_tenant_region = std::string(req["TenantRegion"]);
    stats.last_body_field_names.clear();
    const std::string_view body = req.body();
    for (std::size_t start = 0; start < body.size();) {
        const auto end = std::min(body.find('&', start), body.size());
        const auto pair = body.substr(start, end - start);
        stats.last_body_field_names.emplace_back(pair.substr(0, pair.find('=')));
        start = end + 1;
    }
}

/// A fault that answers without looking at the request; nothing for the others.
std::optional<fake_answer> canned_answer(const http_request& req, const fault& f) {
    const std::string note = "fault " + std::string(to_string(f.kind));
    switch (f.kind) {
    case fault_kind::status:
        return status_answer(req, f.status);
    case fault_kind::rate_limit:
        // Whole seconds from now, like a date Priava prints.
        return rate_limit_answer(
            req,
            std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()) +
                f.retry_after,
            450, std::chrono::minutes{5});
    case fault_kind::html_error:
        return make_answer(req, http::status::bad_gateway, "text/html",
                           "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad "
                           "Gateway</h1></body></html>",
                           note);
    case fault_kind::malformed:
        return make_answer(req, http::status::ok, "application/json", "{\"access_token\":", note);
    case fault_kind::oversized: {
        std::string body = "{\"access_token\":\"";
        body.append(oversized_body - body.size() - 2, 'A');
        return make_answer(req, http::status::ok, "application/json", body + "\"}", note);
    }
    case fault_kind::drop_before:
        return fake_answer{{{}, delivery::reset}, note};
    case fault_kind::echo_request: {
        boost::json::object o;
        o["error"] = "invalid_request: " + std::string(req.body());
        o["error_description"] =
            std::string(290, '.') + " could not parse the request: " + std::string(req.body());
        return make_answer(req, http::status::bad_request, "application/json",
                           boost::json::serialize(o), note);
    }
    case fault_kind::delay:
    case fault_kind::malformed_with_refresh:
    case fault_kind::omit_refresh_token:
    case fault_kind::drop_after:
    case fault_kind::delay_after:
        break;
    }
    return std::nullopt;
}

net::awaitable<fake_answer> answer_token(fake_priava_state& s, http_request& req,
                                         connection_info connection) {
    const auto f = s.faults.take();
    if (f) {
        ++s.stats.faults_applied;
        if (auto canned = canned_answer(req, *f)) {
            co_return std::move(*canned);
        }
        if (f->kind == fault_kind::delay) {
            // A statement of its own: GCC 12 miscompiles co_await inside && and ||.
            const bool left = co_await client_left_during(connection, f->delay);
            if (left) {
                ++s.stats.abandoned_requests;
                co_return fake_answer{{{}, delivery::reset}, "client left during the delay"};
            }
        }
    }
    const auto kind = f ? std::optional(f->kind) : std::nullopt;
    const auto result = s.grants.exchange(
        req, kind == fault_kind::omit_refresh_token ? rotation::keep : rotation::rotate);
    auto a = std::holds_alternative<grant_error>(result)
                 ? error_answer(req, 400, std::get<grant_error>(result).error,
                                std::get<grant_error>(result).description)
                 : make_answer(req, http::status::ok, "application/json",
                               token_body(std::get<issued_tokens>(result),
                                          kind != fault_kind::malformed_with_refresh));
    if (kind == fault_kind::drop_after) {
        a.reply.how = delivery::half_then_close;
    }
    if (kind == fault_kind::delay_after) {
        // A statement of its own: GCC 12 miscompiles co_await inside && and ||.
        const bool left = co_await client_left_during(connection, f->delay);
        if (left) {
            ++s.stats.abandoned_requests;
            a.note += " (the client left before the answer)";
        }
    }
    if (kind) {
        a.note += (a.note.empty() ? "fault " : " fault ") + std::string(to_string(*kind));
    }
    co_return a;
}

/// Priava's rate limit, when the request is over it.
std::optional<fake_answer> over_the_limit(fake_priava_state& s, const http_request& req) {
    const auto until = s.rate.admit(std::chrono::system_clock::now());
    s.stats.most_in_window = s.rate.most_in_one_window();
    if (!until) {
        return std::nullopt;
    }
    ++s.stats.rate_limited;
    return rate_limit_answer(req, *until, s.rate.limit(), s.rate.length());
}

net::awaitable<fake_answer> answer_token_path(fake_priava_state& s, http_request& req,
                                              connection_info connection) {
    ++s.stats.requests;
    record(s.stats, req);
    if (auto limited = over_the_limit(s, req)) {
        co_return std::move(*limited);
    }
    if (req.method() != http::verb::post) {
        auto a = error_answer(req, 405, "method_not_allowed", "the token endpoint takes POST");
        a.reply.response.set(http::field::allow, "POST");
        co_return a;
    }
    co_return co_await answer_token(s, req, connection);
}

void log_token_request(const fake_priava_state& s, const http_request& req, const fake_answer& a) {
    if (!s.options.log) {
        return;
    }
    const std::string outcome =
        a.reply.how == delivery::reset ? "dropped" : std::to_string(a.reply.response.result_int());
    s.options.log(std::string(req.method_string()) + " " + std::string(req.target()) +
                  " grant_type=" + std::string(logged_grant_type(req)) + " -> " + outcome +
                  (a.note.empty() ? "" : " " + a.note));
}

net::awaitable<fake_answer> route(fake_priava_state& s, http_request& req,
                                  connection_info connection) {
    if (req.target() == s.options.token_path) {
        auto a = co_await answer_token_path(s, req, connection);
        log_token_request(s, req, a);
        co_return a;
    }
    if (!req.target().starts_with(api_prefix)) {
        co_return error_answer(req, 404, "not_found", "no such endpoint");
    }
    if (auto limited = over_the_limit(s, req)) {
        co_return std::move(*limited);
    }
    if (!s.api_429s.empty()) {
        auto retry_after = std::move(s.api_429s.front());
        s.api_429s.pop_front();
        ++s.stats.api_requests;
        ++s.stats.rate_limited;
        json::object body{
            {"error", "rate_limit_exceeded"},
            {"limits",
             std::to_string(s.rate.limit()) + " requests per " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::seconds>(s.rate.length()).count()) +
                 " seconds"}};
        if (retry_after) {
            body["retry-after"] = *retry_after;
        }
        co_return json_answer(req, 429, body, "injected 429");
    }
    co_return answer_api(req, s.grants, s.options, s.stats);
}

/// Holds the state only weakly, so the server (owned by the state) keeps no cycle; a request
/// still in flight when the fake is gone is dropped.
net::awaitable<server_reply> handle(std::weak_ptr<fake_priava_state> weak, http_request& req,
                                    connection_info connection) {
    const auto s = weak.lock();
    if (!s) {
        co_return server_reply{{}, delivery::reset};
    }
    co_return (co_await route(*s, req, connection)).reply;
}

std::string base_url(const fake_priava_state& s) {
    return std::string(s.tls != nullptr ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(s.server->port());
}

} // namespace

fake_priava::fake_priava(net::any_io_executor ex, net::ssl::context* tls,
                         fake_priava_options options)
    : state_(std::make_shared<fake_priava_state>(tls, std::move(options))) {
    std::weak_ptr<fake_priava_state> weak = state_;
    const auto body_limit = [token_path = state_->options.token_path](std::string_view target) {
        return target.starts_with(api_prefix) && target != token_path ? api_body_limit
                                                                      : token_body_limit;
    };
    state_->server.emplace(std::move(ex), tls, state_->options.connection_timeout, body_limit,
                           [weak](http_request& req, connection_info connection) {
                               return handle(weak, req, connection);
                           });
}

fake_priava::~fake_priava() {
    stop();
}

std::uint16_t fake_priava::listen(std::uint16_t port) {
    return state_->server->listen(port);
}
std::uint16_t fake_priava::port() const noexcept {
    return state_->server->port();
}
bool fake_priava::listening() const noexcept {
    return state_->server->listening();
}
std::string fake_priava::token_url() const {
    return base_url(*state_) + state_->options.token_path;
}
std::string fake_priava::api_url() const {
    return base_url(*state_) + std::string(api_prefix.substr(0, api_prefix.size() - 1));
}
std::string fake_priava::ping_url() const {
    return base_url(*state_) + std::string(ping_path);
}
std::string fake_priava::issue_code() {
    return state_->grants.issue_code();
}

void fake_priava::set_expires_in(std::chrono::seconds expires_in) {
    state_->options.expires_in = expires_in;
}

void fake_priava::inject(const fault& f) {
    state_->faults.push(f);
}
void fake_priava::clear_faults() {
    state_->faults.clear();
}
std::size_t fake_priava::pending_faults() const noexcept {
    return state_->faults.size();
}
void fake_priava::revoke() {
    state_->grants.revoke();
}
void fake_priava::revoke_access_tokens() {
    state_->grants.revoke_access_tokens();
}
void fake_priava::answer_api_429s(std::vector<std::optional<std::string>> retry_afters) {
    for (auto& r : retry_afters) {
        state_->api_429s.push_back(std::move(r));
    }
}
void fake_priava::set_rate_limit(unsigned limit, std::chrono::milliseconds window) {
    state_->rate.set(limit, window);
    state_->options.rate_limit = limit;
    state_->options.rate_window = window;
}
const fake_priava_stats& fake_priava::stats() const noexcept {
    return state_->stats;
}

issued_secrets fake_priava::issued() const {
    return state_->grants.issued();
}

std::string fake_priava::current_refresh_token() const {
    return state_->grants.current_refresh_token();
}

void fake_priava::stop() {
    state_->server->stop();
}

} // namespace priava_tokend::testing
