#include <priava_tokend/api/socket_api.hpp>
#include <priava_tokend/core/version.hpp>
#include <priava_tokend/priava/form_encoding.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <unistd.h>

namespace priava_tokend {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using std::chrono::steady_clock;

/// One waiting long poll, counted while it waits.
struct long_poll_slot {
    explicit long_poll_slot(std::size_t& waiting) noexcept
        : count(waiting) {}
    std::size_t& count;
    long_poll_slot(const long_poll_slot&) = delete;
    long_poll_slot& operator=(const long_poll_slot&) = delete;
    ~long_poll_slot() { --count; }
};

response too_many_waiters(std::size_t cap) {
    response r = error_response(503, "too_many_waiters",
                                std::to_string(cap) +
                                    " long polls wait already (half of listen.max_connections); "
                                    "ask again, or without wait=");
    r.message().set(http::field::retry_after, "1");
    return r;
}

constexpr std::string_view json_type = "application/json";

response ok_json(std::string body) {
    return make_response(200, json_type, std::move(body));
}

json::value optional_time(const std::optional<wall_time>& t) {
    return t ? json::value(format_rfc3339(*t)) : json::value(nullptr);
}

/// The budget left, the queue and the pause (docs/socket-api.md, `/v1/status`).
json::value proxy_status(const proxy_endpoint& proxy) {
    const auto now = steady_clock::now();
    const request_budget& b = proxy.gate().budget();
    const std::size_t sent = b.in_window(now);
    json::value paused = nullptr;
    if (const auto until = b.paused_until(now)) {
        paused = format_rfc3339(std::chrono::time_point_cast<wall_time::duration>(
            std::chrono::system_clock::now() + (*until - now)));
    }
    return json::object{
        {"upstream", proxy.pool().upstream().host_header},
        {"budget", b.limits().budget},
        {"window_seconds", std::chrono::duration<double>(b.limits().window).count()},
        {"sent_in_window", sent},
        {"budget_left", b.limits().budget - std::min(sent, b.limits().budget)},
        {"queued", b.queued()},
        {"in_flight", b.in_flight()},
        {"paused_until", paused},
        {"retries_401", proxy.stats().retries_401},
        {"retries_429", proxy.stats().retries_429},
        {"upstream_connections", json::object{{"opened", proxy.pool().stats().opened},
                                              {"reused", proxy.pool().stats().reused},
                                              {"tls_resumed", proxy.pool().stats().tls_resumed},
                                              {"idle", proxy.pool().idle()}}}};
}

json::value last_error_json(const std::optional<error_record>& e) {
    if (!e) {
        return nullptr;
    }
    return json::object{
        {"error", e->error}, {"error_description", e->description}, {"at", format_rfc3339(e->at)}};
}

/// The fields of a bootstrap form: the code and whether to force, or why the body is refused.
struct bootstrap_form {
    std::optional<secret> code;
    bool force = false;
};

outcome<bootstrap_form> read_bootstrap_form(std::string_view body) {
    auto fields = parse_form(body);
    if (!fields) {
        return make_failure(errc::config_invalid, "body: " + fields.error().message);
    }
    bootstrap_form form;
    for (auto& [name, value] : *fields) {
        if (name == "code" && !form.code) {
            form.code.emplace(std::move(value));
        } else if (name == "force" && (value == "1" || value == "true")) {
            form.force = true;
        } else {
            return make_failure(errc::config_invalid,
                                "unexpected form field '" + name.substr(0, 40) + "'");
        }
    }
    if (!form.code || form.code->empty() || !is_token_text(form.code->reveal())) {
        return make_failure(errc::config_invalid, "form field 'code' is missing or empty");
    }
    return form;
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

response refusal_response(const token_answer& a) {
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
    response r = make_response(status, json_type, std::move(body));
    if (status == 503) {
        r.message().set(http::field::retry_after,
                        std::to_string(std::max<std::int64_t>(1, a.retry_after.count())));
    }
    return r;
}

response unroutable(const route& r) {
    switch (r.outcome) {
    case route::verdict::method_not_allowed: {
        response res = error_response(405, "method_not_allowed",
                                      "use " + std::string(r.allow) + " for this path");
        res.message().set(http::field::allow, r.allow);
        return res;
    }
    case route::verdict::bad_request:
        return error_response(400, "invalid_request", r.problem);
    case route::verdict::not_found:
    case route::verdict::ok:
        break;
    }
    return error_response(404, "not_found", "no such endpoint");
}

socket_api::socket_api(token_keeper& keeper, const logger& log, std::string state_path)
    : keeper_(keeper)
    , log_(log)
    , state_path_(std::move(state_path)) {}

response socket_api::token(const token_answer& a) {
    if (a.token == nullptr) {
        return refusal_response(a);
    }
    const held_token& t = *a.token;
    // The keeper found the token usable a moment ago, with more than serve_margin left; that
    // moment may be a few milliseconds back (a long poll resuming), so the reply is not let to
    // round below the margin it was served under.
    const auto margin =
        std::chrono::floor<std::chrono::seconds>(keeper_.settings().refresh.serve_margin);
    const auto left = std::max(t.seconds_left(steady_clock::now()), margin).count();
    if (!cache_.answer || cache_.generation != t.generation || cache_.seconds_left != left) {
        json::object o;
        o["access_token"] = t.access_token.reveal();
        o["token_type"] = "Bearer";
        o["expires_in"] = left;
        o["expires_at"] = format_rfc3339(t.expires_at);
        o["region"] = to_string(keeper_.settings().tenant);
        o["generation"] = t.generation;
        response fresh = make_response(200, json_type, json::serialize(o));
        cache_ = cached_token{t.generation, left, prepare(std::move(fresh.message()))};
    }
    return response(cache_.answer);
}

response socket_api::status() const {
    const keeper_status s = keeper_.status();
    json::object o;
    o["state"] = to_string(s.state);
    o["version"] = version();
    o["region"] = to_string(keeper_.settings().tenant);
    o["generation"] = s.generation;
    o["expires_at"] = s.token ? json::value(format_rfc3339(s.token->expires_at)) : nullptr;
    o["expires_in"] =
        s.token ? json::value(s.token->seconds_left(steady_clock::now()).count()) : nullptr;
    o["next_refresh_at"] = optional_time(s.next_refresh_at);
    o["last_refresh_at"] = optional_time(s.last_refresh_at);
    o["last_error"] = last_error_json(s.last_error);
    o["consecutive_failures"] = s.consecutive_failures;
    o["state_file"] = json::object{
        {"path", state_path_},
        {"persisted", s.persisted},
        {"error", s.persist_error ? json::value(*s.persist_error) : json::value(nullptr)}};
    o["proxy"] = proxy_ != nullptr ? proxy_status(*proxy_) : json::value(nullptr);
    if (cluster_ != nullptr) {
        const cluster_status c = cluster_->status();
        o["cluster"] = json::object{
            {"role", c.role},
            {"leader", c.leader.empty() ? json::value(nullptr) : json::value(c.leader)},
            {"etcd", c.etcd_up ? "ok" : "unreachable"}};
    } else {
        o["cluster"] = nullptr;
    }
    return ok_json(json::serialize(o));
}

response socket_api::metrics() const {
    return make_response(
        200, "text/plain; version=0.0.4; charset=utf-8",
        render_metrics(keeper_.status(), keeper_.stats(), counters_, connections_) +
            (proxy_ != nullptr ? render_proxy_metrics(proxy_->stats(), proxy_->gate().budget())
                               : std::string{}) +
            (cluster_ != nullptr ? render_cluster_metrics(cluster_->status()) : std::string{}));
}

std::optional<response> socket_api::answer_now(const route& r, const request_head&) {
    if (r.outcome != route::verdict::ok) {
        return unroutable(r);
    }
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
            return refusal_response(keeper_.current());
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
        return refusal_response(keeper_.current());
    case api_path::metrics:
        return metrics();
    case api_path::proxy: // the server hands proxied calls to the proxy when it is on
        return error_response(404, "not_found",
                              "the API proxy is off; set [proxy] enabled = true to use /v1/proxy/");
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
            if (long_polls_ >= long_poll_cap_) {
                co_return too_many_waiters(long_poll_cap_);
            }
            ++long_polls_;
            const long_poll_slot slot{long_polls_};
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
    auto form = read_bootstrap_form(head.body);
    if (!form) {
        co_return error_response(400, "invalid_request", form.error().message);
    }
    log_.info("bootstrap requested over the socket by " + peer->describe() +
              (form->force ? " (force)" : ""));
    const token_answer a = co_await keeper_.bootstrap(std::move(*form->code), form->force);
    co_return token(a);
}

} // namespace priava_tokend
