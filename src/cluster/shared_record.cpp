#include <priava_tokend/cluster/shared_record.hpp>
#include <priava_tokend/core/base64.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/keeper/state_codec.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace priava_tokend {
namespace {

namespace json = boost::json;

constexpr std::int64_t format_version = 1;

std::string_view phase_name(shared_record::phase p) {
    switch (p) {
    case shared_record::phase::ready:
        return "ready";
    case shared_record::phase::refreshing:
        return "refreshing";
    case shared_record::phase::rejected:
        break;
    }
    return "rejected";
}

/// What the tag covers besides the tokens: every field a fence or a reader acts on.
std::string associated_data(std::string_view fingerprint, const shared_record& r) {
    return std::string(fingerprint) + "|" + std::to_string(r.generation) + "|" +
           std::string(phase_name(r.state)) + "|" + r.holder;
}

/// A short, public name of the credential: another credential's state is told apart before
/// anything is decrypted.
std::string credential_tag(std::string_view fingerprint) {
    return std::string(fingerprint.substr(0, 16));
}

failure corrupt(std::string what) {
    return make_failure(errc::state_corrupt, "the cluster's shared state " + std::move(what));
}

} // namespace

std::string_view holder_node(std::string_view holder) {
    return holder.substr(0, holder.find('/'));
}

std::string encode_shared_record(const shared_record& record, const state_cipher& cipher,
                                 std::string_view fingerprint) {
    json::object o;
    o["format"] = format_version;
    o["generation"] = std::to_string(record.generation);
    o["phase"] = phase_name(record.state);
    o["holder"] = record.holder;
    o["credential"] = credential_tag(fingerprint);
    // Sealed even without tokens (an empty text), so the tag always covers the envelope: without
    // the key nobody can plant an intent that stops the cluster.
    const secret plain = record.tokens ? encode_state(*record.tokens, fingerprint) : secret{};
    o["sealed"] = encode_base64(cipher.seal(plain.reveal(), associated_data(fingerprint, record)));
    return json::serialize(o);
}

outcome<shared_record> decode_shared_record(std::string_view text, const state_cipher& cipher,
                                            std::string_view fingerprint) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (o == nullptr) {
        return corrupt("is not a JSON object");
    }
    const auto* format = o->if_contains("format");
    if (format == nullptr || !format->is_int64() || format->get_int64() != format_version) {
        return corrupt("has an unknown format (written by a newer priava-tokend?)");
    }
    shared_record r;
    const auto* generation = o->if_contains("generation");
    const auto* phase = o->if_contains("phase");
    const auto* holder = o->if_contains("holder");
    auto gen = generation != nullptr && generation->is_string()
                   ? parse_number<std::uint64_t>(generation->get_string())
                   : std::nullopt;
    if (!gen || phase == nullptr || !phase->is_string() || holder == nullptr ||
        !holder->is_string()) {
        return corrupt("lacks its generation, phase or holder");
    }
    r.generation = *gen;
    if (phase->get_string() == "refreshing") {
        r.state = shared_record::phase::refreshing;
    } else if (phase->get_string() == "rejected") {
        r.state = shared_record::phase::rejected;
    } else if (phase->get_string() != "ready") {
        return corrupt("has an unknown phase");
    }
    r.holder = std::string(holder->get_string());
    const auto* credential = o->if_contains("credential");
    if (credential == nullptr || !credential->is_string() ||
        credential->get_string() != credential_tag(fingerprint)) {
        return make_failure(errc::state_foreign,
                            "the cluster's shared state was made for another credential "
                            "(token_url, client_id or region differ from this node's [priava])");
    }
    const auto* sealed = o->if_contains("sealed");
    auto bytes = sealed != nullptr && sealed->is_string() ? decode_base64(sealed->get_string())
                                                          : std::nullopt;
    if (!bytes) {
        return corrupt("lacks its sealed part, or it is not base64");
    }
    auto plain = cipher.open(*bytes, associated_data(fingerprint, r));
    if (!plain) {
        return plain.error();
    }
    if (plain->reveal().empty()) {
        return r; // an intent before the first code exchange: no tokens yet
    }
    auto tokens = decode_state(plain->reveal(), fingerprint);
    if (!tokens) {
        return tokens.error();
    }
    if (tokens->generation != r.generation) {
        return corrupt("holds tokens of another generation than its envelope says");
    }
    r.tokens = std::move(*tokens);
    return r;
}

} // namespace priava_tokend
