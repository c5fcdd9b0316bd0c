#include <priava_tokend/api/socket_api.hpp>
#include <priava_tokend/core/version.hpp>
#include <priava_tokend/priava/form_encoding.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <unistd.h>

namespace priava_tokend {
namespace {

namespace json = boost::json;
using std::chrono::steady_clock;

constexpr std::string_view json_type = "application/json";

response ok_json(std::string body) {
    response r;
    r.own = render_response(200, json_type, body);
    return r;
}

std::string retry_after(std::chrono::seconds s) {
    return "Retry-After: " + std::to_string(std::max<std::int64_t>(1, s.count())) + "\r\n";
}

response refused(const token_answer& a) {
    const auto [status, error] = http_status_of(a.why);
    std::string body;
    if (!a.priava_error.empty()) {
        json::object o;
        o["error"] = error;
        o["error_description"] = a.detail;
        o["priava_error"] = a.priava_error;
        body = json::serialize(o);
    } else {
        body = error_body(error, a.detail);
    }
    response r;
    r.status = status;
    r.own =
        render_response(status, json_type, body, status == 503 ? retry_after(a.retry_after) : "");
    return r;
}

json::value optional_time(const std::optional<wall_time>& t) {
    return t ? json::value(format_rfc3339(*t)) : json::value(nullptr);
}

} // namespace

std::pair<unsigned, std::string_view> http_status_of(refusal why) noexcept {
    switch (why) {
    case refusal::none:
        return {200, ""};
    case refusal::reauth_required:
        return {503, "reauth_required"};
    case refusal::conflict:
        return {409, "conflict"};
    case refusal::rejected:
        return {422, "code_rejected"};
    case refusal::no_token:
    case refusal::expired:
    case refusal::refresh_failed:
    case refusal::timed_out:
    case refusal::lifetime_too_short:
        return {503, "token_unavailable"};
    }
    return {500, "internal_error"};
}

const peer_credentials* caller::credentials() {
    if (!peer) {
        peer = peer_of(fd);
    }
    return peer ? &*peer : nullptr;
}

socket_api::socket_api(token_keeper& keeper, const logger& log, std::string state_path)
    : keeper_(keeper)
    , log_(log)
    , state_path_(std::move(state_path)) {}

response socket_api::token(const token_answer& a) {
    if (a.token == nullptr) {
        return refused(a);
    }
    const held_token& t = *a.token;
    // The keeper found the token usable a moment ago, with more than serve_margin left; that
    // moment may be a few milliseconds back (a long poll resuming), so the reply is not let to
    // round below the margin it was served under.
    const auto margin =
        std::chrono::floor<std::chrono::seconds>(keeper_.settings().refresh.serve_margin);
    const auto left = std::max(t.seconds_left(steady_clock::now()), margin).count();
    if (!cache_.bytes || cache_.generation != t.generation || cache_.seconds_left != left) {
        json::object o;
        o["access_token"] = t.access_token.reveal();
        o["token_type"] = "Bearer";
        o["expires_in"] = left;
        o["expires_at"] = format_rfc3339(t.expires_at);
        o["region"] = to_string(keeper_.settings().tenant);
        o["generation"] = t.generation;
        cache_ = cached_token{t.generation, left,
                              std::make_shared<const std::string>(
                                  render_response(200, json_type, json::serialize(o)))};
    }
    response r;
    r.shared = cache_.bytes;
    return r;
}

response socket_api::status() const {
    const keeper_status s = keeper_.status();
    json::object o;
    o["state"] = to_string(s.state);
    o["version"] = version();
    o["region"] = to_string(keeper_.settings().tenant);
    o["generation"] = s.generation;
    if (s.token != nullptr) {
        o["expires_at"] = format_rfc3339(s.token->expires_at);
        o["expires_in"] = s.token->seconds_left(steady_clock::now()).count();
    } else {
        o["expires_at"] = nullptr;
        o["expires_in"] = nullptr;
    }
    o["next_refresh_at"] = optional_time(s.next_refresh_at);
    o["last_refresh_at"] = optional_time(s.last_refresh_at);
    if (s.last_error) {
        o["last_error"] = json::object{{"error", s.last_error->error},
                                       {"error_description", s.last_error->description},
                                       {"at", format_rfc3339(s.last_error->at)}};
    } else {
        o["last_error"] = nullptr;
    }
    o["consecutive_failures"] = s.consecutive_failures;
    o["state_file"] = json::object{
        {"path", state_path_},
        {"persisted", s.persisted},
        {"error", s.persist_error ? json::value(*s.persist_error) : json::value(nullptr)}};
    return ok_json(json::serialize(o));
}

std::optional<response> socket_api::answer_now(const route& r, const request_head&) {
    switch (r.path) {
    case api_path::token:
        if (r.query.newer_than) {
            const held_token* t = keeper_.usable_token();
            if (t == nullptr || t->generation <= *r.query.newer_than) {
                return std::nullopt; // long poll
            }
            return token(token_answer{t});
        }
        if (const held_token* t =
                keeper_.usable_token(r.query.min_ttl.value_or(std::chrono::seconds{0}))) {
            return token(token_answer{t});
        }
        if (!r.query.min_ttl && !keeper_.first_token_pending()) {
            return refused(keeper_.current());
        }
        return std::nullopt; // waits for a refresh, or for the very first token
    case api_path::status:
        return status();
    case api_path::livez:
    case api_path::healthz:
        return ok_json(R"({"status":"ok"})");
    case api_path::readyz:
        if (keeper_.usable_token() != nullptr) {
            return ok_json(R"({"status":"ready"})");
        }
        return refused(keeper_.current());
    case api_path::metrics: {
        response m;
        m.own = render_response(
            200, "text/plain; version=0.0.4; charset=utf-8",
            render_metrics(keeper_.status(), keeper_.stats(), counters_, connections_));
        return m;
    }
    case api_path::token_refresh:
    case api_path::bootstrap:
    case api_path::other:
        return std::nullopt;
    }
    return std::nullopt;
}

net::awaitable<response> socket_api::answer(const route& r, const request_head& head, caller& who) {
    token_answer a;
    switch (r.path) {
    case api_path::token:
        if (r.query.newer_than) {
            a = co_await keeper_.token_newer_than(*r.query.newer_than, r.query.wait);
        } else {
            a = co_await keeper_.token_with_ttl(r.query.min_ttl.value_or(std::chrono::seconds{0}));
        }
        co_return token(a);
    case api_path::token_refresh:
        a = co_await keeper_.refreshed_token();
        co_return token(a);
    case api_path::bootstrap: {
        response r_bootstrap = co_await bootstrap(head, who);
        co_return r_bootstrap;
    }
    default:
        break;
    }
    if (auto now = answer_now(r, head)) {
        co_return std::move(*now);
    }
    co_return error_response(404, "not_found", "no such endpoint");
}

net::awaitable<response> socket_api::bootstrap(const request_head& head, caller& who) {
    const peer_credentials* peer = who.credentials();
    if (peer == nullptr || (peer->uid != 0 && peer->uid != ::geteuid())) {
        log_.warning("refused POST /v1/bootstrap from " +
                     (peer ? peer->describe() : std::string("an unknown peer")) +
                     ": only root and the daemon's own user may bootstrap");
        co_return error_response(403, "forbidden",
                                 "only root and the daemon's own user may bootstrap");
    }
    if (!head.content_type.starts_with("application/x-www-form-urlencoded")) {
        co_return error_response(415, "unsupported_media_type",
                                 "send the code as application/x-www-form-urlencoded");
    }
    auto fields = parse_form(head.body);
    if (!fields) {
        co_return error_response(400, "invalid_request", "body: " + fields.error().message);
    }
    std::optional<secret> code;
    bool force = false;
    for (auto& [name, value] : *fields) {
        if (name == "code" && !code) {
            code.emplace(std::move(value));
        } else if (name == "force" && (value == "1" || value == "true")) {
            force = true;
        } else {
            co_return error_response(400, "invalid_request",
                                     "unexpected form field '" + name.substr(0, 40) + "'");
        }
    }
    if (!code || code->empty() || !is_token_text(code->reveal())) {
        co_return error_response(400, "invalid_request", "form field 'code' is missing or empty");
    }
    log_.info("bootstrap requested over the socket by " + peer->describe() +
              (force ? " (force)" : ""));
    const token_answer a = co_await keeper_.bootstrap(std::move(*code), force);
    co_return token(a);
}

} // namespace priava_tokend
