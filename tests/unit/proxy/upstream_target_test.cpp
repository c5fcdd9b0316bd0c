#include <priava_tokend/proxy/upstream_target.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

std::string mapped(std::string_view target, std::string_view base = "/api/rest") {
    const auto t = map_upstream_target(target, base);
    EXPECT_TRUE(t.ok()) << target << ": " << t.refusal;
    return t.target;
}

std::string refusal(std::string_view target) {
    const auto t = map_upstream_target(target, "/api/rest");
    EXPECT_FALSE(t.ok()) << target << " was mapped to " << t.target;
    return t.refusal;
}

TEST(UpstreamTarget, PathAndQueryGoBelowTheUpstreamAsTheAppEncodedThem) {
    EXPECT_EQ(mapped("/v1/proxy/events"), "/api/rest/events");
    EXPECT_EQ(mapped("/v1/proxy/events/1001?expand=venue&name=a%20b+c"),
              "/api/rest/events/1001?expand=venue&name=a%20b+c");
    EXPECT_EQ(mapped("/v1/proxy/events?"), "/api/rest/events?");
    EXPECT_EQ(mapped("/v1/proxy/caf%C3%A9", "/api/rest/"), "/api/rest/caf%C3%A9");
    EXPECT_EQ(mapped("/v1/proxy/events", ""), "/events");
    EXPECT_EQ(mapped("/v1/proxy/a/..b/c.d/.e"), "/api/rest/a/..b/c.d/.e");
}

TEST(UpstreamTarget, DotSegmentsAreRefusedPlainOrEncoded) {
    for (const char* t :
         {"/v1/proxy/..", "/v1/proxy/../oauth/token", "/v1/proxy/a/../../x", "/v1/proxy/a/./b",
          "/v1/proxy/%2e%2e/x", "/v1/proxy/%2E./x", "/v1/proxy/.%2e", "/v1/proxy/a/%2e"}) {
        EXPECT_NE(refusal(t).find("segment"), std::string::npos) << t;
    }
}

TEST(UpstreamTarget, EncodedSeparatorsAndNulAreRefused) {
    EXPECT_EQ(refusal("/v1/proxy/a%2Fb"), "the path has an encoded '/' or '\\'");
    EXPECT_EQ(refusal("/v1/proxy/a%2fb"), "the path has an encoded '/' or '\\'");
    EXPECT_EQ(refusal("/v1/proxy/a%5Cb"), "the path has an encoded '/' or '\\'");
    EXPECT_EQ(refusal("/v1/proxy/a%00b"), "the path has an encoded NUL");
    EXPECT_EQ(refusal("/v1/proxy/a?x=%00"), "the query has an encoded NUL");
    // An encoded '%' followed by "00" is text, not a NUL.
    EXPECT_EQ(mapped("/v1/proxy/a?x=%2500"), "/api/rest/a?x=%2500");
}

TEST(UpstreamTarget, EmptySegmentsAndAMissingPathAreRefused) {
    EXPECT_EQ(refusal("/v1/proxy/"), "no Priava path after /v1/proxy/");
    EXPECT_EQ(refusal("/v1/proxy//events"), "the path has an empty segment");
    EXPECT_EQ(refusal("/v1/proxy/events/"), "the path has an empty segment");
}

TEST(UpstreamTarget, OnlyOriginFormBelowThePrefixIsMapped) {
    for (const char* t : {"https://evil.example/v1/proxy/x", "http://localhost/v1/proxy/x", "*",
                          "v1/proxy/x", "/v1/proxy/a b", "/v1/proxy/x#frag", "/v1/proxy/%zz"}) {
        EXPECT_NE(refusal(t).find("not a path"), std::string::npos) << t;
    }
    EXPECT_EQ(refusal("/v1/token"), "the path is not below /v1/proxy/");
    EXPECT_EQ(refusal("/v1/proxyx/events"), "the path is not below /v1/proxy/");
}

} // namespace
} // namespace priava_tokend
