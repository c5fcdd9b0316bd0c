#include <priava_tokend/priava/token_endpoint.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

TEST(TokenEndpoint, ParsesPriavaProductionUrl) {
    const auto ep = parse_token_url("https://api.priava.com/api/rest/oauth/token");
    ASSERT_TRUE(ep) << ep.error().message;
    EXPECT_TRUE(ep->tls);
    EXPECT_EQ(ep->host, "api.priava.com");
    EXPECT_EQ(ep->port, 443);
    EXPECT_EQ(ep->target, "/api/rest/oauth/token");
    EXPECT_EQ(ep->host_header, "api.priava.com");
}

TEST(TokenEndpoint, KeepsPortAndQuery) {
    const auto ep = parse_token_url("https://127.0.0.1:8443/oauth/token?x=1");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->port, 8443);
    EXPECT_EQ(ep->target, "/oauth/token?x=1");
    EXPECT_EQ(ep->host_header, "127.0.0.1:8443");
}

TEST(TokenEndpoint, DefaultsTargetToRoot) {
    const auto ep = parse_token_url("https://example.com");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->target, "/");
}

TEST(TokenEndpoint, ParsesBracketedIpv6) {
    const auto ep = parse_token_url("http://[::1]:8080/t");
    ASSERT_TRUE(ep) << ep.error().message;
    EXPECT_FALSE(ep->tls);
    EXPECT_EQ(ep->host, "::1");
    EXPECT_EQ(ep->host_header, "[::1]:8080");
}

TEST(TokenEndpoint, AllowsPlainHttpOnlyToLoopback) {
    EXPECT_TRUE(parse_token_url("http://localhost:9000/t"));
    EXPECT_TRUE(parse_token_url("http://127.0.0.2/t"));
    const auto remote = parse_token_url("http://api.priava.com/api/rest/oauth/token");
    ASSERT_FALSE(remote);
    EXPECT_NE(remote.error().message.find("loopback"), std::string::npos);
}

TEST(TokenEndpoint, RefusesMalformedUrls) {
    for (const char* bad :
         {"api.priava.com/oauth/token", "ftp://h/t", "https://user:pw@h/t", "https://h/t#frag",
          "https://h:0/t", "https://h:70000/t", "https://h:/t", "https:///t", "https://h t/x",
          "https://[::1/t", "https://bad_host!/t"}) {
        EXPECT_FALSE(parse_token_url(bad)) << bad;
    }
}

TEST(TokenEndpoint, ErrorDoesNotEchoUserInfo) {
    const auto ep = parse_token_url("https://user:hunter2@h/t");
    ASSERT_FALSE(ep);
    EXPECT_EQ(ep.error().message.find("hunter2"), std::string::npos);
}

} // namespace
} // namespace priava_tokend
