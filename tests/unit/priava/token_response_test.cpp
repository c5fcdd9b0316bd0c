#include <priava_tokend/priava/token_response.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono;

const wall_time now = sys_days{2026y / November / 25} + 12h;

token_outcome classify(unsigned status, std::string_view body, std::string_view header = {}) {
    return classify_token_response(status, body, header, now);
}

TEST(TokenResponse, PriavasDocumentedSuccessIsATokenSet) {
    const auto o = classify(200, R"({ "access_token": "a/b+c=", "refresh_token": "r+1",
                                      "token_type" : "BEARER", "expires_in": 21600 })");
    const auto* t = std::get_if<token_set>(&o);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->access_token.reveal(), "a/b+c=");
    ASSERT_TRUE(t->refresh_token);
    EXPECT_EQ(t->refresh_token->reveal(), "r+1");
    EXPECT_EQ(t->expires_in, seconds{21600});
}

TEST(TokenResponse, TokenTypeIsMatchedCaseInsensitively) {
    for (const char* type : {"bearer", "Bearer", "BEARER", "bEaReR"}) {
        const auto o =
            classify(200, std::string(R"({"access_token":"a","expires_in":5,"token_type":")") +
                              type + "\"}");
        EXPECT_TRUE(std::holds_alternative<token_set>(o)) << type;
    }
}

TEST(TokenResponse, MissingRefreshTokenKeepsTheOldOne) {
    const auto o = classify(200, R"({"access_token":"a","expires_in":60,"token_type":"bearer"})");
    const auto* t = std::get_if<token_set>(&o);
    ASSERT_NE(t, nullptr);
    EXPECT_FALSE(t->refresh_token);
}

TEST(TokenResponse, IntegralFloatLifetimeIsAccepted) {
    const auto o = classify(200, R"({"access_token":"a","expires_in":3600.0})");
    ASSERT_TRUE(std::holds_alternative<token_set>(o));
    EXPECT_EQ(std::get<token_set>(o).expires_in, seconds{3600});
}

TEST(TokenResponse, MalformedSuccessIsTransient) {
    for (const char* body :
         {"", "not json", "[]", R"({"expires_in":60})", R"({"access_token":"","expires_in":60})",
          R"({"access_token":5,"expires_in":60})", R"({"access_token":"a"})",
          R"({"access_token":"a","expires_in":"60"})", R"({"access_token":"a","expires_in":0})",
          R"({"access_token":"a","expires_in":-5})", R"({"access_token":"a","expires_in":1.5})",
          R"({"access_token":"a","expires_in":99999999999})",
          R"({"access_token":"a b","expires_in":60})",
          R"({"access_token":"a","expires_in":60,"token_type":"mac"})",
          R"({"access_token":"a","expires_in":60,"token_type":7})",
          R"({"access_token":"a","expires_in":60,"refresh_token":7})",
          R"({"access_token":"a","expires_in":60,"refresh_token":""})"}) {
        const auto o = classify(200, body);
        const auto* f = std::get_if<transient_failure>(&o);
        ASSERT_NE(f, nullptr) << body;
        EXPECT_EQ(f->reason, errc::malformed_response) << body;
        EXPECT_EQ(f->http_status, 200u);
    }
}

TEST(TokenResponse, MalformedSuccessStillHandsOverTheRotatedRefreshToken) {
    const auto o = classify(200, R"({"refresh_token":"new-r","expires_in":"soon"})");
    const auto* f = std::get_if<transient_failure>(&o);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(f->rotated_refresh_token);
    EXPECT_EQ(f->rotated_refresh_token->reveal(), "new-r");
}

TEST(TokenResponse, BadRequestIsARejectionWithPriavasWords) {
    const auto o = classify(400, R"({"error":"invalid_grant",
                                     "error_description":"Refresh token expired\n"})");
    const auto* r = std::get_if<rejection>(&o);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->http_status, 400u);
    EXPECT_EQ(r->error, "invalid_grant");
    EXPECT_EQ(r->description, "Refresh token expired\n"); // made printable where it is printed
}

TEST(TokenResponse, UnauthorizedWithoutJsonIsStillARejection) {
    const auto o = classify(401, "<html>nope</html>");
    const auto* r = std::get_if<rejection>(&o);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->error, "http_401");
}

TEST(TokenResponse, DescriptionsAreKeptWholeSoThatSecretsAreRedactedBeforeAnyCut) {
    // Whoever prints them cuts them, after redaction (quote_outside_text).
    const auto o = classify(400, R"({"error":"invalid_request","error_description":")" +
                                     std::string(1000, 'x') + "\"}");
    EXPECT_EQ(std::get<rejection>(o).description, std::string(1000, 'x'));
}

TEST(TokenResponse, ServerErrorsAreTransient) {
    for (const unsigned status : {500u, 502u, 503u, 504u, 404u, 403u, 302u}) {
        const auto o = classify(status, "<html>Bad Gateway</html>");
        const auto* f = std::get_if<transient_failure>(&o);
        ASSERT_NE(f, nullptr) << status;
        EXPECT_EQ(f->reason, errc::server_error);
        EXPECT_EQ(f->http_status, status);
    }
}

TEST(TokenResponse, RateLimitReadsPriavasRetryAfterField) {
    const auto o = classify(429, R"({"message":"slow down","retry-after":"2026-11-25T12:03:00"})");
    const auto* f = std::get_if<transient_failure>(&o);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->reason, errc::rate_limited);
    EXPECT_EQ(f->retry_after, now + 3min);
}

TEST(TokenResponse, RateLimitFallsBackToTheHeader) {
    const auto o = classify(429, "Too Many Requests", "42");
    EXPECT_EQ(std::get<transient_failure>(o).retry_after, now + 42s);
}

TEST(TokenResponse, RateLimitWithoutAnyHintHasNoRetryAfter) {
    const auto o = classify(429, R"({"retry-after":"tomorrow"})", "soon");
    EXPECT_FALSE(std::get<transient_failure>(o).retry_after);
}

} // namespace
} // namespace priava_tokend
