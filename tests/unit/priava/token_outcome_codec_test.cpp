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

TEST(TokenOutcomeCodec, OrdersCarryTheStoreOrderWhenThereIsOne) {
    token_request_order order{"https://h/t", "EU", std::nullopt, 1500ms, secret{"b"}, 42};
    EXPECT_FALSE(decode_order(encode_order(order).reveal())->store);
    order.store = secret{R"({"path":"/s.json"})"};
    const auto back = decode_order(encode_order(order).reveal());
    ASSERT_TRUE(back);
    ASSERT_TRUE(back->store);
    EXPECT_EQ(back->store->reveal(), R"({"path":"/s.json"})");
}

TEST(TokenOutcomeCodec, TokenSetsKeepTheirReceiptTimeToTheMillisecond) {
    token_set t{secret{"a"}, secret{"r"}, 60s};
    t.received_at = wall_time{std::chrono::milliseconds{1'700'000'000'123}};
    EXPECT_EQ(std::get<token_set>(round_trip(t)).received_at, t.received_at);
    EXPECT_FALSE(
        std::get<token_set>(round_trip(token_set{secret{"a"}, secret{"r"}, 60s})).received_at);
}

TEST(TokenOutcomeCodec, AStoreReportMarksTokensAndRotationsStored) {
    const std::string yes = encode_store_report(outcome<void>{});
    token_outcome tokens = token_set{secret{"a"}, secret{"r"}, 60s};
    apply_store_report(yes, tokens);
    EXPECT_TRUE(std::get<token_set>(tokens).stored);

    token_outcome rotated =
        transient_failure{errc::malformed_response, "x", 200, std::nullopt, secret{"new-r"}};
    apply_store_report(yes, rotated);
    EXPECT_TRUE(std::get<transient_failure>(rotated).rotation_stored);

    token_outcome failed =
        transient_failure{errc::connect_failed, "x", 0, std::nullopt, std::nullopt};
    apply_store_report(yes, failed);
    EXPECT_FALSE(std::get<transient_failure>(failed).rotation_stored) << "nothing to store";
}

TEST(TokenOutcomeCodec, AFailedOrGarbledStoreReportLeavesTheStoringToTheDaemon) {
    const std::string no = encode_store_report(make_failure(errc::state_write_failed, "disk full"));
    EXPECT_NE(no.find("disk full"), std::string::npos);
    for (const std::string& report :
         {no, std::string{}, std::string{"{\"stored\":1}"}, std::string{"garbage"}}) {
        token_outcome tokens = token_set{secret{"a"}, secret{"r"}, 60s};
        apply_store_report(report, tokens);
        EXPECT_FALSE(std::get<token_set>(tokens).stored) << report;
    }
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
