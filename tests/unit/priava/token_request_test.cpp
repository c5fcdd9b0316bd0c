#include <priava_tokend/priava/token_request.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

const client_credentials client{"my client", secret{"s+cr/t="},
                                "https://my.app.com/oauth2callback"};

TEST(TokenRequest, AuthorizationCodeBodyFollowsPriavasPage) {
    EXPECT_EQ(
        token_request_body(client, grant_type::authorization_code, secret{"c/o+d=e"}).reveal(),
        "grant_type=authorization_code&client_id=my+client&client_secret=s%2Bcr%2Ft%3D"
        "&code=c%2Fo%2Bd%3De&redirect_uri=https%3A%2F%2Fmy.app.com%2Foauth2callback");
}

TEST(TokenRequest, RefreshBodyCarriesTheRedirectUriToo) {
    EXPECT_EQ(token_request_body(client, grant_type::refresh_token, secret{"r=="}).reveal(),
              "grant_type=refresh_token&client_id=my+client&client_secret=s%2Bcr%2Ft%3D"
              "&refresh_token=r%3D%3D&redirect_uri=https%3A%2F%2Fmy.app.com%2Foauth2callback");
}

TEST(TokenRequest, ContentTypeIsByteExact) {
    EXPECT_STREQ(token_request_content_type, "application/x-www-form-urlencoded;charset=utf-8");
}

} // namespace
} // namespace priava_tokend
