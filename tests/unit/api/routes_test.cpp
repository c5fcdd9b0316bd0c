#include <priava_tokend/api/routes.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using std::chrono::seconds;

TEST(Routes, EveryEndpointHasItsMethod) {
    const std::pair<http::verb, const char*> ok[] = {
        {http::verb::get, "/v1/token"},      {http::verb::post, "/v1/token/refresh"},
        {http::verb::post, "/v1/bootstrap"}, {http::verb::get, "/v1/status"},
        {http::verb::get, "/livez"},         {http::verb::get, "/healthz"},
        {http::verb::get, "/readyz"},        {http::verb::get, "/metrics"}};
    for (const auto& [method, target] : ok) {
        EXPECT_EQ(route_request(method, target).outcome, route::verdict::ok) << target;
    }
}

TEST(Routes, WrongMethodIs405WithAllow) {
    const auto r = route_request(http::verb::post, "/v1/token");
    EXPECT_EQ(r.outcome, route::verdict::method_not_allowed);
    EXPECT_EQ(r.allow, "GET");
    EXPECT_EQ(route_request(http::verb::get, "/v1/token/refresh").allow, "POST");
    EXPECT_EQ(route_request(http::verb::head, "/livez").outcome,
              route::verdict::method_not_allowed);
}

TEST(Routes, UnknownPathsAre404) {
    for (const char* target : {"/", "/v1/token/", "/v1/tokens", "/V1/token", "/metrics/x", ""}) {
        EXPECT_EQ(route_request(http::verb::get, target).outcome, route::verdict::not_found)
            << target;
    }
}

TEST(Routes, ParsesMinTtl) {
    const auto r = route_request(http::verb::get, "/v1/token?min_ttl=600");
    ASSERT_EQ(r.outcome, route::verdict::ok);
    EXPECT_EQ(r.query.min_ttl, seconds{600});
    EXPECT_FALSE(r.query.newer_than);
}

TEST(Routes, ParsesLongPoll) {
    const auto r = route_request(http::verb::get, "/v1/token?newer_than=7&wait=120");
    ASSERT_EQ(r.outcome, route::verdict::ok);
    EXPECT_EQ(r.query.newer_than, 7u);
    EXPECT_EQ(r.query.wait, seconds{120});
}

TEST(Routes, LongPollWaitDefaultsToThirtySeconds) {
    EXPECT_EQ(route_request(http::verb::get, "/v1/token?newer_than=1").query.wait, seconds{30});
}

TEST(Routes, BadQueriesAre400NamingTheParameter) {
    for (const char* target :
         {"/v1/token?min_ttl=-1", "/v1/token?min_ttl=abc", "/v1/token?min_ttl=86401",
          "/v1/token?wait=5", "/v1/token?newer_than=1&wait=301", "/v1/token?newer_than=x",
          "/v1/token?min-ttl=5", "/v1/token?min_ttl=5&newer_than=1", "/v1/status?x=1",
          "/v1/token?min_ttl"}) {
        const auto r = route_request(http::verb::get, target);
        EXPECT_EQ(r.outcome, route::verdict::bad_request) << target;
        EXPECT_FALSE(r.problem.empty()) << target;
    }
}

TEST(Routes, PathLabelsAreFixed) {
    EXPECT_EQ(to_string(api_path::token), "/v1/token");
    EXPECT_EQ(to_string(api_path::other), "other");
    EXPECT_EQ(route_request(http::verb::get, "/nope").path, api_path::other);
}

} // namespace
} // namespace priava_tokend
