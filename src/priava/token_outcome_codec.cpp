#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/priava/token_outcome_codec.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace priava_tokend {
namespace {

namespace json = boost::json;

failure bad(std::string what) {
    return make_failure(errc::malformed_response, "token request process: " + std::move(what));
}

std::optional<secret> secret_field(const json::object& o, std::string_view name) {
    const auto* s = string_field(o, name);
    if (s == nullptr) {
        return std::nullopt;
    }
    return secret{std::string(*s)};
}

outcome<json::object> parse_object(std::string_view text) {
    auto o = parse_json_object(text);
    if (!o) {
        return bad("reply is not a JSON object");
    }
    return std::move(*o);
}

std::int64_t milliseconds_since_epoch(wall_time t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

/// The errc values a transient failure may carry across the pipe.
std::optional<errc> transient_reason(std::string_view name) {
    for (const errc e : {errc::resolve_failed, errc::connect_failed, errc::tls_failed,
                         errc::request_timeout, errc::connection_lost, errc::response_too_large,
                         errc::malformed_response, errc::server_error, errc::rate_limited}) {
        if (to_string(e) == name) {
            return e;
        }
    }
    return std::nullopt;
}

} // namespace

secret encode_order(const token_request_order& order) {
    json::object o;
    o["token_url"] = order.token_url;
    o["region"] = order.region;
    if (order.ca_file) {
        o["ca_file"] = *order.ca_file;
    }
    o["timeout_ms"] = order.timeout.count();
    o["body"] = order.body.reveal();
    o["parent_pid"] = order.parent_pid;
    if (order.store) {
        o["store"] = order.store->reveal();
    }
    return secret{json::serialize(o)};
}

outcome<token_request_order> decode_order(std::string_view text) {
    auto o = parse_object(text);
    if (!o) {
        return o.error();
    }
    const auto* url = string_field(*o, "token_url");
    const auto* region = string_field(*o, "region");
    const auto timeout = int64_field(*o, "timeout_ms");
    auto body = secret_field(*o, "body");
    if (url == nullptr || region == nullptr || !timeout || *timeout <= 0 || !body) {
        return bad("order lacks token_url, region, timeout_ms or body");
    }
    token_request_order order{std::string(*url), std::string(*region), std::nullopt,
                              std::chrono::milliseconds{*timeout}, std::move(*body)};
    if (const auto* ca = string_field(*o, "ca_file")) {
        order.ca_file = std::string(*ca);
    }
    if (const auto parent = int64_field(*o, "parent_pid")) {
        order.parent_pid = static_cast<int>(*parent);
    }
    order.store = secret_field(*o, "store");
    return order;
}

secret encode_outcome(const token_outcome& outcome) {
    json::object o;
    if (const auto* t = std::get_if<token_set>(&outcome)) {
        o["outcome"] = "tokens";
        o["access_token"] = t->access_token.reveal();
        if (t->refresh_token) {
            o["refresh_token"] = t->refresh_token->reveal();
        }
        o["expires_in"] = t->expires_in.count();
        if (t->received_at) {
            o["received_at_ms"] = milliseconds_since_epoch(*t->received_at);
        }
    } else if (const auto* f = std::get_if<transient_failure>(&outcome)) {
        o["outcome"] = "transient";
        o["reason"] = to_string(f->reason);
        o["detail"] = f->detail;
        o["http_status"] = f->http_status;
        if (f->retry_after) {
            o["retry_after_ms"] = milliseconds_since_epoch(*f->retry_after);
        }
        if (f->rotated_refresh_token) {
            o["rotated_refresh_token"] = f->rotated_refresh_token->reveal();
        }
    } else {
        const auto& r = std::get<rejection>(outcome);
        o["outcome"] = "rejection";
        o["http_status"] = r.http_status;
        o["error"] = r.error;
        o["description"] = r.description;
    }
    return secret{json::serialize(o)};
}

outcome<token_outcome> decode_outcome(std::string_view text) {
    auto parsed = parse_object(text);
    if (!parsed) {
        return parsed.error();
    }
    const json::object& o = *parsed;
    const auto* kind = string_field(o, "outcome");
    if (kind == nullptr) {
        return bad("reply has no outcome");
    }
    const auto status = int64_field(o, "http_status");
    if (*kind == "tokens") {
        auto access = secret_field(o, "access_token");
        const auto expires = int64_field(o, "expires_in");
        if (!access || access->empty() || !is_token_text(access->reveal()) || !expires ||
            *expires <= 0) {
            return bad("tokens reply lacks a valid access_token or expires_in");
        }
        auto refresh = secret_field(o, "refresh_token");
        if (refresh && (refresh->empty() || !is_token_text(refresh->reveal()))) {
            return bad("tokens reply has an invalid refresh_token");
        }
        token_set t{std::move(*access), std::move(refresh), std::chrono::seconds{*expires}};
        if (const auto ms = int64_field(o, "received_at_ms")) {
            t.received_at = wall_time{std::chrono::milliseconds{*ms}};
        }
        return token_outcome{std::move(t)};
    }
    if (*kind == "transient") {
        const auto* reason_name = string_field(o, "reason");
        const auto reason = reason_name ? transient_reason(*reason_name) : std::nullopt;
        const auto* detail = string_field(o, "detail");
        if (!reason || detail == nullptr || !status || *status < 0) {
            return bad("transient reply lacks reason, detail or http_status");
        }
        transient_failure f{*reason, std::string(*detail), static_cast<unsigned>(*status),
                            std::nullopt, secret_field(o, "rotated_refresh_token")};
        if (const auto ms = int64_field(o, "retry_after_ms")) {
            f.retry_after = wall_time{std::chrono::milliseconds{*ms}};
        }
        return token_outcome{std::move(f)};
    }
    if (*kind == "rejection") {
        const auto* error = string_field(o, "error");
        const auto* description = string_field(o, "description");
        if (error == nullptr || description == nullptr || !status || *status < 0) {
            return bad("rejection reply lacks error, description or http_status");
        }
        return token_outcome{rejection{static_cast<unsigned>(*status), std::string(*error),
                                       std::string(*description)}};
    }
    return bad("unknown outcome '" + std::string(std::string_view(*kind).substr(0, 20)) + "'");
}

std::string encode_store_report(const outcome<void>& stored) {
    json::object o;
    o["stored"] = stored.has_value();
    if (!stored) {
        o["error"] = stored.error().message;
    }
    return json::serialize(o);
}

void apply_store_report(std::string_view report, token_outcome& result) {
    const auto o = parse_json_object(report);
    if (!o || bool_field(*o, "stored") != true) {
        return;
    }
    if (auto* t = std::get_if<token_set>(&result)) {
        t->stored = true;
    } else if (auto* f = std::get_if<transient_failure>(&result);
               f != nullptr && f->rotated_refresh_token) {
        f->rotation_stored = true;
    }
}

} // namespace priava_tokend
