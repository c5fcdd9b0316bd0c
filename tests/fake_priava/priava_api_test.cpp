#include "fake_priava_fixture.hpp"
#include "priava_api.hpp"

#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/core/timestamp.hpp>

namespace priava_tokend::testing {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

/// A day-long window: a test's few requests never straddle two of them (but at midnight UTC).
constexpr auto long_window = std::chrono::milliseconds{24h};

class FakePriavaApi : public FakePriava {
  protected:
    std::string access = string_at(bootstrap(), "access_token");

    raw_request api(std::string method, std::string path, std::string body = {}) {
        return raw_request{std::move(method),
                           "/api/rest/" + std::move(path),
                           {{"Authorization", "Bearer " + access}, {"TenantRegion", "APAC"}},
                           std::move(body)};
    }
};

TEST_F(FakePriavaApi, ApiUrlIsTheTokenEndpointsFolder) {
    EXPECT_EQ(fake.api_url(), "https://127.0.0.1:" + std::to_string(port) + "/api/rest");
}

TEST_F(FakePriavaApi, EventsAreListedWithTheQueryAsSentAndFoundById) {
    const auto list = send(api("GET", "events?page=2&name=a%2Fb+c"));
    ASSERT_EQ(list.status(), 200u) << list.body();
    const auto body = object_of(list);
    EXPECT_EQ(body.at("events").as_array().size(), 3u);
    EXPECT_EQ(string_at(body, "query"), "page=2&name=a%2Fb+c");

    const auto one = send(api("GET", "events/1002"));
    ASSERT_EQ(one.status(), 200u);
    EXPECT_EQ(string_at(object_of(one), "name"), "Product Launch");
    EXPECT_EQ(send(api("GET", "events/9999")).status(), 404u);
    EXPECT_EQ(send(api("GET", "venues")).status(), 404u);

    const auto post = send(api("POST", "events", "{}"));
    EXPECT_EQ(post.status(), 405u);
    EXPECT_EQ(post.response[http::field::allow], "GET");
    EXPECT_EQ(fake.stats().api_requests, 5);
    EXPECT_EQ(fake.stats().api_ok, 2);
}

TEST_F(FakePriavaApi, EchoReportsTheBodyByteForByteAndTheHeadersWithoutTheToken) {
    std::string body(5 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) {
        body[i] = static_cast<char>((i * 7) % 256);
    }
    auto request = api("PUT", "echo?x=1", body);
    request.headers.emplace_back("X-App", "reports");
    const auto reply = send(request, 20s);
    ASSERT_EQ(reply.status(), 200u) << reply.body();
    const auto echoed = object_of(reply);
    EXPECT_EQ(string_at(echoed, "method"), "PUT");
    EXPECT_EQ(string_at(echoed, "query"), "x=1");
    EXPECT_EQ(echoed.at("bytes"), body.size());
    EXPECT_EQ(string_at(echoed, "sha256"), sha256_hex(body));
    const auto& headers = echoed.at("headers").as_object();
    EXPECT_EQ(headers.at("Authorization"), "valid");
    EXPECT_EQ(headers.at("X-App"), "reports");
    EXPECT_EQ(reply.body().find(access), std::string::npos);
    EXPECT_EQ(send(api("GET", "echo")).status(), 405u);
}

TEST_F(FakePriavaApi, ApiBodiesOverItsLimitAre413) {
    const auto reply = send(api("POST", "echo", std::string(api_body_limit + 1, 'b')), 30s);
    EXPECT_EQ(reply.status(), 413u);
}

TEST_F(FakePriavaApi, BytesAnswersTheCountAsked) {
    const auto reply = send(api("GET", "bytes?count=1000"));
    ASSERT_EQ(reply.status(), 200u);
    EXPECT_EQ(reply.response[http::field::content_type], "application/octet-stream");
    ASSERT_EQ(reply.body().size(), 1000u);
    EXPECT_EQ(static_cast<unsigned char>(reply.body()[300]), 300u % 251);
    EXPECT_EQ(send(api("GET", "bytes?count=x")).status(), 400u);
    EXPECT_EQ(send(api("GET", "bytes")).status(), 400u);
}

TEST_F(FakePriavaApi, RevokedAccessTokensAre401UntilANewOneIsIssued) {
    ASSERT_EQ(send(api("GET", "ping")).status(), 200u);
    fake.revoke_access_tokens();
    const auto refused = send(api("GET", "events"));
    EXPECT_EQ(refused.status(), 401u);
    EXPECT_EQ(refused.response[http::field::www_authenticate], "Bearer error=\"invalid_token\"");
    EXPECT_EQ(string_at(object_of(refused), "error"), "invalid_token");
    EXPECT_EQ(fake.stats().api_unauthorized, 1);

    const auto refreshed = send(refresh_request(fake.current_refresh_token()));
    ASSERT_EQ(refreshed.status(), 200u);
    access = string_at(object_of(refreshed), "access_token");
    EXPECT_EQ(send(api("GET", "events")).status(), 200u);
    EXPECT_EQ(fake.issued().access_tokens.size(), 2u) << "revoked tokens stay listed";
}

TEST_F(FakePriavaApi, RegionIsCheckedAfterTheToken) {
    EXPECT_EQ(send(api("GET", "events").set("TenantRegion", "EU")).status(), 400u);
    EXPECT_EQ(send(api("GET", "events").remove("Authorization").set("TenantRegion", "EU")).status(),
              401u);
}

TEST_F(FakePriavaApi, OverTheRateLimitTokenAndApiRequestsGetPriavas429) {
    fake.set_rate_limit(3, long_window); // the bootstrap counted already
    ASSERT_EQ(send(api("GET", "events")).status(), 200u);
    ASSERT_EQ(send(api("GET", "ping")).status(), 200u);

    const auto before = std::chrono::system_clock::now();
    const auto limited = send(api("GET", "events"));
    ASSERT_EQ(limited.status(), 429u);
    const auto body = object_of(limited);
    EXPECT_EQ(string_at(body, "error"), "rate_limit_exceeded");
    EXPECT_EQ(string_at(body, "limits"), "3 requests per 86400 seconds");
    EXPECT_EQ(limited.response.count(http::field::retry_after), 0u);
    const auto retry_after = parse_priava_retry_after(string_at(body, "retry-after"));
    ASSERT_TRUE(retry_after) << string_at(body, "retry-after");
    EXPECT_GT(*retry_after, before);
    EXPECT_LE(*retry_after, before + 24h);
    EXPECT_EQ(
        std::chrono::duration_cast<std::chrono::seconds>(retry_after->time_since_epoch()) % 24h, 0s)
        << "the window ends at midnight UTC";

    EXPECT_EQ(send(refresh_request(fake.current_refresh_token())).status(), 429u);
    EXPECT_EQ(fake.stats().rate_limited, 2);
    EXPECT_EQ(fake.stats().most_in_window, 3u);
    EXPECT_EQ(fake.stats().refresh_grants, 0) << "a limited refresh consumes nothing";
}

TEST_F(FakePriavaApi, ByDefaultThe451stRequestInFiveMinutesIs429) {
    const auto window_of = [](std::chrono::system_clock::time_point t) {
        return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()) / 300s;
    };
    const auto before = std::chrono::system_clock::now();
    // The bootstrap was the first; 449 more fill the window.
    const auto replies = send_all(std::vector<raw_request>(450, api("GET", "ping")), 20s);
    if (window_of(before) != window_of(std::chrono::system_clock::now())) {
        GTEST_SKIP() << "a 5-minute window of UTC ended during the test";
    }
    ASSERT_EQ(replies.size(), 450u);
    EXPECT_EQ(replies[448].status(), 200u);
    EXPECT_EQ(replies[449].status(), 429u);
    EXPECT_EQ(string_at(object_of(replies[449]), "limits"), "450 requests per 300 seconds");
    EXPECT_EQ(fake.stats().most_in_window, 450u);
}

} // namespace
} // namespace priava_tokend::testing
