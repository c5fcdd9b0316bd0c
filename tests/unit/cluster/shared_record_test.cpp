#include <priava_tokend/cluster/shared_record.hpp>
#include <priava_tokend/cluster/state_cipher.hpp>
#include <priava_tokend/core/base64.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>

namespace priava_tokend {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

secret key_of(char first) {
    std::string bytes(32, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        bytes[i] = static_cast<char>(first + static_cast<char>(i));
    }
    return secret{std::move(bytes)};
}

const state_cipher cipher_a{key_of(0x00)};
const state_cipher cipher_b{key_of(0x20)};

// What credential_fingerprint makes: SHA-256 hex of token_url, client_id and region.
constexpr std::string_view fingerprint =
    "3b5d5c3712955042212316173ccf37be800c5b7e7c5a6ae5b1b5f8d3c1c6e6a1";
constexpr std::string_view other_fingerprint =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

constexpr std::string_view code_digest =
    "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

stored_tokens tokens_of(std::uint64_t generation) {
    stored_tokens t;
    t.refresh_token = secret{"refresh-token-" + std::to_string(generation)};
    t.access_token = secret{"access-token-" + std::to_string(generation)};
    t.received_at = wall_time{std::chrono::sys_days{std::chrono::year{2026} / 12 / 1}} + 7h;
    t.expires_at = t.received_at + 6h;
    t.generation = generation;
    t.bootstrap_code_sha256 = std::string(code_digest);
    return t;
}

shared_record ready(std::uint64_t generation) {
    return shared_record{generation, shared_record::phase::ready, "host-1/3f2a9c1e",
                         tokens_of(generation)};
}

/// The record decoded with key A and `fingerprint`; fails the test if it is refused.
shared_record decoded(std::string_view text) {
    auto r = decode_shared_record(text, cipher_a, fingerprint);
    EXPECT_TRUE(r.has_value()) << (r ? std::string() : r.error().message);
    return r ? std::move(*r) : shared_record{};
}

/// The refusal of `text`; fails the test if it is taken or the message names a token.
failure refused(std::string_view text, const state_cipher& cipher = cipher_a,
                std::string_view fp = fingerprint) {
    auto r = decode_shared_record(text, cipher, fp);
    EXPECT_FALSE(r.has_value()) << "taken: " << text;
    if (r) {
        return {};
    }
    EXPECT_EQ(r.error().message.find("token-"), std::string::npos) << r.error().message;
    return r.error();
}

/// `text`'s JSON envelope with `change` applied.
std::string altered(std::string_view text, const std::function<void(json::object&)>& change) {
    json::value v = json::parse(text);
    change(v.as_object());
    return json::serialize(v);
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

void expect_same_tokens(const stored_tokens& got, const stored_tokens& want) {
    EXPECT_EQ(got.refresh_token.reveal(), want.refresh_token.reveal());
    EXPECT_EQ(got.access_token.reveal(), want.access_token.reveal());
    EXPECT_EQ(got.expires_at, want.expires_at);
    EXPECT_EQ(got.received_at, want.received_at);
    EXPECT_EQ(got.generation, want.generation);
    EXPECT_EQ(got.bootstrap_code_sha256, want.bootstrap_code_sha256);
}

// --- round trips ---------------------------------------------------------------------------

TEST(SharedRecord, RoundTripsAReadyRecordWithTokens) {
    const auto record = ready(7);
    const auto r = decoded(encode_shared_record(record, cipher_a, fingerprint));
    EXPECT_EQ(r.generation, 7u);
    EXPECT_EQ(r.state, shared_record::phase::ready);
    EXPECT_EQ(r.holder, "host-1/3f2a9c1e");
    ASSERT_TRUE(r.tokens);
    expect_same_tokens(*r.tokens, *record.tokens);
}

TEST(SharedRecord, RoundTripsARefreshingRecordWithoutTokens) {
    const shared_record intent{0, shared_record::phase::refreshing, "host-2/0badc0de",
                               std::nullopt};
    const std::string text = encode_shared_record(intent, cipher_a, fingerprint);
    // Sealed all the same (an empty text): the tag covers the envelope.
    EXPECT_TRUE(json::parse(text).as_object().contains("sealed"));
    const auto r = decoded(text);
    EXPECT_EQ(r.generation, 0u);
    EXPECT_EQ(r.state, shared_record::phase::refreshing);
    EXPECT_EQ(r.holder, "host-2/0badc0de");
    EXPECT_FALSE(r.tokens);
}

TEST(SharedRecord, RoundTripsARefreshingRecordThatKeepsTheTokensItRefreshes) {
    auto intent = ready(12);
    intent.state = shared_record::phase::refreshing;
    const auto r = decoded(encode_shared_record(intent, cipher_a, fingerprint));
    EXPECT_EQ(r.state, shared_record::phase::refreshing);
    ASSERT_TRUE(r.tokens);
    expect_same_tokens(*r.tokens, *intent.tokens);
}

TEST(SharedRecord, RoundTripsTheLargestGeneration) {
    const auto max = std::numeric_limits<std::uint64_t>::max();
    const auto r = decoded(encode_shared_record(ready(max), cipher_a, fingerprint));
    EXPECT_EQ(r.generation, max);
    ASSERT_TRUE(r.tokens);
    EXPECT_EQ(r.tokens->generation, max);
}

// --- what etcd sees ------------------------------------------------------------------------

TEST(SharedRecord, TheEtcdValueShowsTheEnvelopeButNoTokenText) {
    const std::string text = encode_shared_record(ready(7), cipher_a, fingerprint);
    for (const std::string_view secret_part : std::initializer_list<std::string_view>{
             "refresh-token-7", "access-token-7", "refresh-token", "access-token", code_digest}) {
        EXPECT_FALSE(contains(text, secret_part)) << secret_part << " in " << text;
    }
    EXPECT_FALSE(contains(text, encode_base64("refresh-token-7")));
    EXPECT_FALSE(contains(text, fingerprint)) << "the credential is bound, not shown";

    const auto o = json::parse(text).as_object();
    EXPECT_EQ(o.at("format").as_int64(), 1);
    EXPECT_EQ(o.at("generation").as_string(), "7");
    EXPECT_EQ(o.at("phase").as_string(), "ready");
    EXPECT_EQ(o.at("holder").as_string(), "host-1/3f2a9c1e");
    ASSERT_TRUE(o.at("sealed").is_string());
    const auto sealed = decode_base64(o.at("sealed").as_string());
    ASSERT_TRUE(sealed) << "the sealed tokens are standard base64";
    EXPECT_GT(sealed->size(), state_cipher::nonce_size + state_cipher::tag_size);
}

TEST(SharedRecord, SealsTheSameRecordDifferentlyEachTime) {
    const auto record = ready(7);
    const std::string first = encode_shared_record(record, cipher_a, fingerprint);
    const std::string second = encode_shared_record(record, cipher_a, fingerprint);
    EXPECT_NE(first, second) << "a fresh nonce per seal";
    EXPECT_EQ(decoded(first).generation, decoded(second).generation);
}

// --- refusals ------------------------------------------------------------------------------

TEST(SharedRecord, AnotherKeyDoesNotDecrypt) {
    const auto f = refused(encode_shared_record(ready(7), cipher_b, fingerprint));
    EXPECT_EQ(f.code, make_error_code(errc::state_corrupt));
    EXPECT_TRUE(contains(f.message, "does not decrypt")) << f.message;
}

TEST(SharedRecord, AnAlteredGenerationIsRefused) {
    const std::string text = encode_shared_record(ready(7), cipher_a, fingerprint);
    for (const char* generation : {"8", "6", "0"}) {
        const auto f =
            refused(altered(text, [&](json::object& o) { o["generation"] = generation; }));
        EXPECT_EQ(f.code, make_error_code(errc::state_corrupt)) << generation;
    }
}

TEST(SharedRecord, AnAlteredPhaseIsRefused) {
    const std::string text = encode_shared_record(ready(7), cipher_a, fingerprint);
    const auto f = refused(altered(text, [](json::object& o) { o["phase"] = "refreshing"; }));
    EXPECT_EQ(f.code, make_error_code(errc::state_corrupt));

    auto intent = ready(7);
    intent.state = shared_record::phase::refreshing;
    const std::string intent_text = encode_shared_record(intent, cipher_a, fingerprint);
    refused(altered(intent_text, [](json::object& o) { o["phase"] = "ready"; }));
}

TEST(SharedRecord, AnAlteredHolderIsRefused) {
    const std::string text = encode_shared_record(ready(7), cipher_a, fingerprint);
    for (const char* holder : {"host-2/3f2a9c1e", "host-1/3f2a9c1f", "host-1", ""}) {
        const auto f = refused(altered(text, [&](json::object& o) { o["holder"] = holder; }));
        EXPECT_EQ(f.code, make_error_code(errc::state_corrupt)) << holder;
    }
}

TEST(SharedRecord, SealedTokensMovedIntoAnotherEnvelopeAreRefused) {
    const std::string older = encode_shared_record(ready(6), cipher_a, fingerprint);
    const std::string newer = encode_shared_record(ready(7), cipher_a, fingerprint);
    const auto old_sealed = json::parse(older).as_object().at("sealed");
    refused(altered(newer, [&](json::object& o) { o["sealed"] = old_sealed; }));
}

TEST(SharedRecord, TokensOfAnotherCredentialAreRefused) {
    const std::string text = encode_shared_record(ready(7), cipher_a, other_fingerprint);
    const auto f = refused(text);
    EXPECT_FALSE(f.message.empty());
    EXPECT_TRUE(decode_shared_record(text, cipher_a, other_fingerprint).has_value())
        << "taken by the credential it was made for";
}

TEST(SharedRecord, TokensOfAnotherGenerationThanTheEnvelopeAreRefused) {
    auto mislabelled = ready(7);
    mislabelled.tokens->generation = 6;
    const auto f = refused(encode_shared_record(mislabelled, cipher_a, fingerprint));
    EXPECT_EQ(f.code, make_error_code(errc::state_corrupt));
    EXPECT_TRUE(contains(f.message, "another generation")) << f.message;
}

TEST(SharedRecord, AnUnknownFormatIsRefused) {
    const std::string text = encode_shared_record(ready(7), cipher_a, fingerprint);
    for (const json::value& format : {json::value(2), json::value(0), json::value("1"),
                                      json::value(1.0), json::value(nullptr)}) {
        const auto f = refused(altered(text, [&](json::object& o) { o["format"] = format; }));
        EXPECT_EQ(f.code, make_error_code(errc::state_corrupt)) << json::serialize(format);
        EXPECT_TRUE(contains(f.message, "unknown format")) << f.message;
    }
    const auto f = refused(altered(text, [](json::object& o) { o.erase("format"); }));
    EXPECT_TRUE(contains(f.message, "unknown format")) << f.message;
}

TEST(SharedRecord, WhatIsNotAJsonObjectIsRefused) {
    for (const std::string_view text : {"", "not json", "[1, 2]", "\"ready\"", "{\"format\": 1"}) {
        const auto f = refused(text);
        EXPECT_EQ(f.code, make_error_code(errc::state_corrupt)) << text;
        EXPECT_TRUE(contains(f.message, "is not a JSON object")) << text << ": " << f.message;
    }
}

TEST(SharedRecord, AnEnvelopeLackingAFieldIsRefused) {
    const std::string text = encode_shared_record(ready(7), cipher_a, fingerprint);
    for (const char* field : {"generation", "phase", "holder"}) {
        const auto f = refused(altered(text, [&](json::object& o) { o.erase(field); }));
        EXPECT_TRUE(contains(f.message, "lacks its generation, phase or holder"))
            << field << ": " << f.message;
    }
    for (const json::value& generation :
         {json::value(7), json::value("-1"), json::value("7x"), json::value("")}) {
        const auto f =
            refused(altered(text, [&](json::object& o) { o["generation"] = generation; }));
        EXPECT_TRUE(contains(f.message, "lacks its generation, phase or holder"))
            << json::serialize(generation) << ": " << f.message;
    }
}

TEST(SharedRecord, AnUnknownPhaseIsRefused) {
    const std::string text = encode_shared_record(ready(7), cipher_a, fingerprint);
    const auto f = refused(altered(text, [](json::object& o) { o["phase"] = "done"; }));
    EXPECT_TRUE(contains(f.message, "unknown phase")) << f.message;
}

TEST(SharedRecord, SealedTokensThatAreNotBase64AreRefused) {
    const std::string text = encode_shared_record(ready(7), cipher_a, fingerprint);
    for (const json::value& sealed :
         {json::value("not base64!"), json::value(42), json::value("QUJD\nREVG")}) {
        const auto f = refused(altered(text, [&](json::object& o) { o["sealed"] = sealed; }));
        EXPECT_TRUE(contains(f.message, "not base64")) << f.message;
    }
    const auto f = refused(altered(text, [](json::object& o) { o["sealed"] = "QUJD"; }));
    EXPECT_TRUE(contains(f.message, "too short")) << f.message;
}

// --- holder_node ---------------------------------------------------------------------------

TEST(SharedRecord, AnUnsealedEnvelopeIsRefused) {
    // Written by someone without the key: it must not pass for an intent that blocks the cluster.
    const std::string planted = R"({"format":1,"generation":"7","phase":"refreshing",)"
                                R"("holder":"ghost/1","credential":")" +
                                std::string(std::string_view(fingerprint).substr(0, 16)) + R"("})";
    const auto r = decode_shared_record(planted, cipher_a, fingerprint);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_corrupt));
}

TEST(SharedRecord, AnotherCredentialsStateIsToldApartBeforeDecrypting) {
    const auto text = encode_shared_record(ready(3), cipher_a, fingerprint);
    const auto r = decode_shared_record(text, cipher_a, std::string(64, 'f'));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, make_error_code(errc::state_foreign));
    EXPECT_NE(r.error().message.find("another credential"), std::string::npos);
}

TEST(SharedRecord, HolderNodeIsThePartBeforeTheSlash) {
    EXPECT_EQ(holder_node("host-1/3f2a9c1e"), "host-1");
    EXPECT_EQ(holder_node("host-1"), "host-1");
    EXPECT_EQ(holder_node("a/b/c"), "a");
    EXPECT_EQ(holder_node("/3f2a9c1e"), "");
    EXPECT_EQ(holder_node(""), "");
}

} // namespace
} // namespace priava_tokend
