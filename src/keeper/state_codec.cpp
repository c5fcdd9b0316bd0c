#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace priava_tokend {
namespace {

namespace json = boost::json;

constexpr std::int64_t format_version = 1;

failure corrupt(const std::string& what) {
    return make_failure(errc::state_corrupt, what);
}

std::optional<wall_time> time_field(const json::object& o, std::string_view name) {
    const auto* s = string_field(o, name);
    return s != nullptr ? parse_rfc3339(*s) : std::nullopt;
}

/// The format version and the credential, checked before anything else is read.
outcome<void> check_header(const json::object& o, std::string_view fingerprint) {
    const auto format = int64_field(o, "format");
    if (!format) {
        return corrupt("has no format version");
    }
    if (*format != format_version) {
        return corrupt("has format " + std::to_string(*format) +
                       "; this priava-tokend reads format " + std::to_string(format_version) +
                       " (was it written by a newer version?)");
    }
    const auto* credential = string_field(o, "credential");
    if (credential == nullptr) {
        return corrupt("has no credential fingerprint");
    }
    if (*credential != fingerprint) {
        return make_failure(errc::state_foreign,
                            "was made for another token_url, client_id or region");
    }
    return {};
}

outcome<secret> token_field(const json::object& o, std::string_view name) {
    const auto* s = string_field(o, name);
    if (s == nullptr || s->empty() || !is_token_text(*s)) {
        return corrupt("has no valid " + std::string(name));
    }
    return secret{std::string(*s)};
}

std::optional<std::uint64_t> generation_field(const json::object& o) {
    const auto* v = o.if_contains("generation");
    if (v != nullptr && v->is_uint64()) {
        return v->get_uint64();
    }
    const auto signed_value = int64_field(o, "generation");
    if (!signed_value || *signed_value < 0) {
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(*signed_value);
}

} // namespace

secret encode_state(const stored_tokens& tokens, std::string_view fingerprint) {
    json::object o;
    o["format"] = format_version;
    o["credential"] = fingerprint;
    o["refresh_token"] = tokens.refresh_token.reveal();
    o["access_token"] = tokens.access_token.reveal();
    o["token_type"] = "Bearer";
    o["expires_at"] = format_rfc3339(tokens.expires_at);
    o["received_at"] = format_rfc3339(tokens.received_at);
    o["generation"] = tokens.generation;
    if (!tokens.bootstrap_code_sha256.empty()) {
        o["bootstrap_code_sha256"] = tokens.bootstrap_code_sha256;
    }
    return secret{json::serialize(o) + "\n"};
}

outcome<stored_tokens> decode_state(std::string_view text, std::string_view fingerprint) {
    const auto o = parse_json_object(text);
    if (!o) {
        return corrupt("is not a valid JSON object");
    }
    if (auto header = check_header(*o, fingerprint); !header) {
        return header.error();
    }
    stored_tokens t;
    auto refresh = token_field(*o, "refresh_token");
    auto access = token_field(*o, "access_token");
    if (!refresh || !access) {
        return refresh ? access.error() : refresh.error();
    }
    t.refresh_token = std::move(*refresh);
    t.access_token = std::move(*access);
    const auto expires = time_field(*o, "expires_at");
    const auto received = time_field(*o, "received_at");
    if (!expires || !received) {
        return corrupt("has no valid expires_at/received_at");
    }
    t.expires_at = *expires;
    t.received_at = *received;
    const auto generation = generation_field(*o);
    if (!generation) {
        return corrupt("has no valid generation");
    }
    t.generation = *generation;
    if (const auto* code = o->if_contains("bootstrap_code_sha256")) {
        if (!code->is_string()) {
            return corrupt("has an invalid bootstrap_code_sha256");
        }
        t.bootstrap_code_sha256 = std::string(code->get_string());
    }
    return t;
}

} // namespace priava_tokend
