#include <priava_tokend/priava/token_outcome_codec.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;

token_outcome round_trip(const token_outcome& o) {
    const secret text = encode_outcome(o);
    auto back = decode_outcome(text.reveal());
    EXPECT_TRUE(back) << (back ? "" : back.error().message);
    return back ? std::move(*back) : token_outcome{transient_failure{}};
}

TEST(TokenOutcomeCodec, TokenSetsRoundTrip) {
    const auto o = round_trip(token_set{secret{"a/b+c="}, secret{"r+1"}, 21600s});
    const auto& t = std::get<token_set>(o);
    EXPECT_EQ(t.access_token.reveal(), "a/b+c=");
    EXPECT_EQ(t.refresh_token->reveal(), "r+1");
    EXPECT_EQ(t.expires_in, 21600s);
    EXPECT_FALSE(
        std::get<token_set>(round_trip(token_set{secret{"a"}, std::nullopt, 5s})).refresh_token);
}

TEST(TokenOutcomeCodec, TransientFailuresKeepReasonRetryAfterAndRotatedToken) {
    const wall_time at{std::chrono::milliseconds{1'700'000'000'123}};
    const auto o =
        round_trip(transient_failure{errc::rate_limited, "HTTP 429", 429, at, secret{"new-r"}});
    const auto& f = std::get<transient_failure>(o);
    EXPECT_EQ(f.reason, errc::rate_limited);
    EXPECT_EQ(f.detail, "HTTP 429");
    EXPECT_EQ(f.http_status, 429u);
    EXPECT_EQ(f.retry_after, at);
    EXPECT_EQ(f.rotated_refresh_token->reveal(), "new-r");
}

TEST(TokenOutcomeCodec, RejectionsRoundTrip) {
    const auto o = round_trip(rejection{400, "invalid_grant", "expired"});
    const auto& r = std::get<rejection>(o);
    EXPECT_EQ(r.http_status, 400u);
    EXPECT_EQ(r.error, "invalid_grant");
    EXPECT_EQ(r.description, "expired");
}

TEST(TokenOutcomeCodec, OrdersRoundTrip) {
    const token_request_order order{"https://h/t",
                                    "EU",
                                    std::string("/ca.pem"),
                                    1500ms,
                                    secret{"grant_type=refresh_token&x=1"},
                                    42};
    const secret text = encode_order(order);
    const auto back = decode_order(text.reveal());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->token_url, "https://h/t");
    EXPECT_EQ(back->region, "EU");
    EXPECT_EQ(back->ca_file, "/ca.pem");
    EXPECT_EQ(back->timeout, 1500ms);
    EXPECT_EQ(back->body, order.body);
    EXPECT_EQ(back->parent_pid, 42);
}

TEST(TokenOutcomeCodec, MalformedRepliesAreRefused) {
    for (const char* bad :
         {"", "[]", "{}", R"({"outcome":"tokens"})",
          R"({"outcome":"tokens","access_token":"a b","expires_in":5})",
          R"({"outcome":"tokens","access_token":"a","expires_in":0})",
          R"({"outcome":"transient","reason":"rejected","detail":"x","http_status":0})",
          R"({"outcome":"transient","reason":"connect_failed","http_status":0})",
          R"({"outcome":"rejection","error":"x","http_status":400})", R"({"outcome":"party"})"}) {
        EXPECT_FALSE(decode_outcome(bad)) << bad;
    }
    EXPECT_FALSE(decode_order(R"({"token_url":"https://h/t","region":"EU"})"));
}

} // namespace
} // namespace priava_tokend
