#include "fake_priava.hpp"
#include "fake_priava_fixture.hpp"

#include <priava_tokend/priava/form_encoding.hpp>

namespace priava_tokend::testing {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

/// `name=value` in an encoded form body becomes `name=encoded_value`.
void replace_field(std::string& body, const std::string& name, const std::string& encoded_value) {
    std::size_t start = 0;
    if (body.rfind(name + "=", 0) != 0) {
        const auto amp = body.find("&" + name + "=");
        ASSERT_NE(amp, std::string::npos) << name;
        start = amp + 1;
    }
    const auto value_start = start + name.size() + 1;
    const auto end = std::min(body.find('&', value_start), body.size());
    body.replace(value_start, end - value_start, encoded_value);
}

void remove_field(std::string& body, const std::string& name) {
    const auto start = body.find("&" + name + "=");
    ASSERT_NE(start, std::string::npos) << name;
    const auto end = std::min(body.find('&', start + 1), body.size());
    body.erase(start, end - start);
}

TEST_F(FakePriava, AuthorizationCodeGrantAnswersInPriavasShape) {
    const auto reply = send(code_request(fake.issue_code()));
    ASSERT_FALSE(reply.ec) << reply.ec.message();
    EXPECT_EQ(reply.status(), 200u);
    EXPECT_EQ(reply.response[http::field::content_type], "application/json");
    const auto body = object_of(reply);
    std::vector<std::string> keys;
    for (const auto& field : body) {
        keys.emplace_back(field.key());
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"access_token", "refresh_token", "token_type",
                                              "expires_in"}));
    EXPECT_EQ(string_at(body, "token_type"), "BEARER");
    EXPECT_EQ(body.at("expires_in"), 21600);
    for (const char* name : {"access_token", "refresh_token"}) {
        EXPECT_NE(string_at(body, name).find('+'), std::string::npos) << name;
        EXPECT_NE(string_at(body, name).find('/'), std::string::npos) << name;
        EXPECT_NE(string_at(body, name).find('='), std::string::npos) << name;
    }
    EXPECT_EQ(fake.current_refresh_token(), string_at(body, "refresh_token"));
    const auto& stats = fake.stats();
    EXPECT_EQ(stats.requests, 1);
    EXPECT_EQ(stats.authorization_code_grants, 1);
    EXPECT_EQ(stats.last_content_type, "application/x-www-form-urlencoded;charset=utf-8");
    EXPECT_EQ(stats.last_tenant_region, "APAC");
    EXPECT_EQ(stats.last_body_field_names,
              (std::vector<std::string>{"grant_type", "client_id", "client_secret", "code",
                                        "redirect_uri"}));
}

TEST_F(FakePriava, RefreshGrantIssuesANewRefreshTokenEveryTime) {
    const auto first = bootstrap();
    const auto second = send(refresh_request(string_at(first, "refresh_token")));
    ASSERT_EQ(second.status(), 200u) << second.body();
    const auto body = object_of(second);
    EXPECT_NE(string_at(body, "refresh_token"), string_at(first, "refresh_token"));
    EXPECT_NE(string_at(body, "access_token"), string_at(first, "access_token"));
    EXPECT_EQ(fake.current_refresh_token(), string_at(body, "refresh_token"));
    EXPECT_EQ(fake.stats().last_body_field_names,
              (std::vector<std::string>{"grant_type", "client_id", "client_secret", "refresh_token",
                                        "redirect_uri"}));
    EXPECT_EQ(send(refresh_request(string_at(body, "refresh_token"))).status(), 200u);
    EXPECT_EQ(fake.stats().refresh_grants, 2);
}

TEST_F(FakePriava, ConsumedRefreshTokenIsInvalidGrantCountedAsReuse) {
    const auto first = bootstrap();
    const auto old_token = string_at(first, "refresh_token");
    ASSERT_EQ(send(refresh_request(old_token)).status(), 200u);
    const auto current = fake.current_refresh_token();

    const auto reply = send(refresh_request(old_token));
    EXPECT_EQ(reply.status(), 400u);
    EXPECT_EQ(string_at(object_of(reply), "error"), "invalid_grant");
    EXPECT_NE(string_at(object_of(reply), "error_description").find("reuse"), std::string::npos);
    EXPECT_EQ(fake.stats().reuse_attempts, 1);
    EXPECT_EQ(fake.current_refresh_token(), current);
    EXPECT_EQ(send(refresh_request(current)).status(), 200u);
}

TEST_F(FakePriava, AuthorizationCodeWorksOnlyOnce) {
    const auto code = fake.issue_code();
    ASSERT_EQ(send(code_request(code)).status(), 200u);
    expect_rejection(code_request(code), "invalid_grant");
    EXPECT_EQ(fake.stats().code_rejections, 1);
    EXPECT_EQ(fake.stats().rejections_by_error.at("invalid_grant"), 1);
}

TEST_F(FakePriava, RevokedRefreshTokenIsInvalidGrantUntilANewCodeIsExchanged) {
    const auto first = bootstrap();
    fake.revoke();
    EXPECT_TRUE(fake.current_refresh_token().empty());
    expect_rejection(refresh_request(string_at(first, "refresh_token")), "invalid_grant");
    EXPECT_EQ(fake.stats().reuse_attempts, 0);
    const auto again = bootstrap();
    EXPECT_EQ(send(refresh_request(string_at(again, "refresh_token"))).status(), 200u);
}

/// One way to get a token request wrong, and Priava's answer to it.
struct bad_request {
    const char* name;
    std::function<void(raw_request&)> spoil;
    const char* error;
};

void PrintTo(const bad_request& b, std::ostream* os) {
    *os << b.name;
}

class FakePriavaRejects : public FakePriava, public ::testing::WithParamInterface<bad_request> {};

TEST_P(FakePriavaRejects, WithTheDocumentedErrorAndConsumesNothing) {
    const auto code = fake.issue_code();
    auto request = code_request(code);
    GetParam().spoil(request);
    expect_rejection(request, GetParam().error);
    EXPECT_EQ(fake.stats().rejections, 1);
    expect_code_still_valid(code);
}

const bad_request bad_requests[] = {
    {"ContentTypeWithoutCharset",
     [](raw_request& r) { r.set("Content-Type", "application/x-www-form-urlencoded"); },
     "invalid_request"},
    {"ContentTypeWithASpace",
     [](raw_request& r) {
         r.set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
     },
     "invalid_request"},
    {"ContentTypeUpperCaseCharset",
     [](raw_request& r) {
         r.set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8");
     },
     "invalid_request"},
    {"ContentTypeJson", [](raw_request& r) { r.set("Content-Type", "application/json"); },
     "invalid_request"},
    {"MissingTenantRegion", [](raw_request& r) { r.remove("TenantRegion"); }, "invalid_request"},
    {"InvalidTenantRegion", [](raw_request& r) { r.set("TenantRegion", "apac"); },
     "invalid_request"},
    {"MismatchedTenantRegion", [](raw_request& r) { r.set("TenantRegion", "EU"); },
     "invalid_request"},
    {"TwoTenantRegions", [](raw_request& r) { r.headers.emplace_back("TenantRegion", "APAC"); },
     "invalid_request"},
    {"UnencodedSlashInAValue",
     [](raw_request& r) {
         replace_field(r.body, "redirect_uri", "https%3A//my.app.com/oauth2callback");
     },
     "invalid_request"},
    {"RedirectUriAsPriavasPageShowsIt",
     [](raw_request& r) {
         replace_field(r.body, "redirect_uri", "https://my.app.com/oauth2callback");
     },
     "invalid_request"},
    {"EmptyBody", [](raw_request& r) { r.body.clear(); }, "invalid_request"},
    {"MissingField", [](raw_request& r) { remove_field(r.body, "client_secret"); },
     "invalid_request"},
    {"DuplicateField", [](raw_request& r) { r.body += "&client_id=test-client"; },
     "invalid_request"},
    {"ExtraField", [](raw_request& r) { r.body += "&scope=all"; }, "invalid_request"},
    {"CodeFieldInARefreshGrant",
     [](raw_request& r) { replace_field(r.body, "grant_type", "refresh_token"); },
     "invalid_request"},
    {"UnknownGrantType", [](raw_request& r) { replace_field(r.body, "grant_type", "password"); },
     "unsupported_grant_type"},
    {"WrongClientSecret",
     [](raw_request& r) { replace_field(r.body, "client_secret", "test-secret"); },
     "invalid_client"},
    {"WrongClientId", [](raw_request& r) { replace_field(r.body, "client_id", "other"); },
     "invalid_client"},
    {"WrongRedirectUri",
     [](raw_request& r) {
         replace_field(r.body, "redirect_uri", form_urlencode("https://my.app.com/other"));
     },
     "invalid_grant"},
    {"UnknownCode", [](raw_request& r) { replace_field(r.body, "code", "made-up"); },
     "invalid_grant"},
};

INSTANTIATE_TEST_SUITE_P(BadRequests, FakePriavaRejects, ::testing::ValuesIn(bad_requests),
                         [](const auto& test) { return std::string(test.param.name); });

TEST_F(FakePriava, UnencodedCodeIsRejectedAsMalformed) {
    const auto code = fake.issue_code();
    auto request = code_request(code);
    replace_field(request.body, "code", code); // raw '+', '/' and '='
    expect_rejection(request, "invalid_request");
    expect_code_still_valid(code);
}

TEST_F(FakePriava, OtherMethodsAre405AndOtherPaths404) {
    auto get = code_request(fake.issue_code());
    get.method = "GET";
    const auto wrong_method = send(get);
    EXPECT_EQ(wrong_method.status(), 405u);
    EXPECT_EQ(wrong_method.response[http::field::allow], "POST");
    EXPECT_EQ(string_at(object_of(wrong_method), "error"), "method_not_allowed");

    auto elsewhere = code_request(fake.issue_code());
    elsewhere.target = "/rest/oauth/token";
    const auto not_found = send(elsewhere);
    EXPECT_EQ(not_found.status(), 404u);
    EXPECT_EQ(string_at(object_of(not_found), "error"), "not_found");
    EXPECT_EQ(fake.stats().requests, 1);
}

TEST_F(FakePriava, RequestHeadOver8KiBIs431) {
    auto request = code_request(fake.issue_code());
    request.headers.emplace_back("X-Padding", std::string(9 * 1024, 'p'));
    EXPECT_EQ(send(request).status(), 431u);
}

TEST_F(FakePriava, RequestBodyOver8KiBIs413) {
    auto request = code_request(fake.issue_code());
    request.body += "&padding=" + std::string(9 * 1024, 'p');
    EXPECT_EQ(send(request).status(), 413u);
}

TEST_F(FakePriava, KeepsTheConnectionAliveBetweenRequests) {
    const auto replies =
        send_all({code_request(fake.issue_code()), code_request(fake.issue_code())});
    ASSERT_EQ(replies.size(), 2u);
    EXPECT_EQ(replies[0].status(), 200u);
    EXPECT_EQ(replies[1].status(), 200u);
    EXPECT_NE(string_at(object_of(replies[0]), "access_token"),
              string_at(object_of(replies[1]), "access_token"));
}

TEST_F(FakePriava, TokenUrlNamesTheLoopbackPortAndPath) {
    EXPECT_EQ(fake.token_url(),
              "https://127.0.0.1:" + std::to_string(port) + "/api/rest/oauth/token");
    EXPECT_EQ(fake.ping_url(), "https://127.0.0.1:" + std::to_string(port) + "/api/rest/ping");
}

TEST_F(FakePriava, PingAcceptsACurrentAccessTokenWithTheRightRegion) {
    const auto access = string_at(bootstrap(), "access_token");
    raw_request ping{"GET",
                     "/api/rest/ping",
                     {{"Authorization", "Bearer " + access}, {"TenantRegion", "APAC"}},
                     ""};
    const auto ok = send(ping);
    EXPECT_EQ(ok.status(), 200u);
    EXPECT_EQ(ok.body(), R"({"ok":true,"region":"APAC"})");
    EXPECT_EQ(fake.stats().ping_ok, 1);

    EXPECT_EQ(send(raw_request(ping).set("TenantRegion", "EU")).status(), 400u);
    EXPECT_EQ(send(raw_request(ping).remove("TenantRegion")).status(), 400u);
    EXPECT_EQ(send(raw_request(ping).remove("Authorization")).status(), 401u);
    EXPECT_EQ(send(raw_request(ping).set("Authorization", "Bearer " + access + "x")).status(),
              401u);
}

TEST_F(FakePriava, PingRefusesAnExpiredAccessToken) {
    fake.set_expires_in(0s);
    const auto body = bootstrap();
    EXPECT_EQ(body.at("expires_in"), 0);
    raw_request ping{
        "GET",
        "/api/rest/ping",
        {{"Authorization", "Bearer " + string_at(body, "access_token")}, {"TenantRegion", "APAC"}},
        ""};
    EXPECT_EQ(send(ping).status(), 401u);
}

TEST_F(FakePriava, StopRefusesConnectionsAndListenOpensTheSamePortAgain) {
    fake.stop();
    EXPECT_FALSE(fake.listening());
    const auto refused = send(code_request(fake.issue_code()));
    EXPECT_EQ(refused.ec, net::error::connection_refused) << refused.ec.message();
    EXPECT_EQ(fake.listen(port), port);
    EXPECT_EQ(send(code_request(fake.issue_code())).status(), 200u);
}

TEST(FakePriavaPlain, ServesPlainHttpWithoutATlsContext) {
    net::io_context ioc;
    fake_priava fake(ioc.get_executor(), nullptr);
    const auto port = fake.listen();
    EXPECT_EQ(fake.token_url().rfind("http://127.0.0.1:", 0), 0u);
    const auto replies = run_task(ioc, exchange({port}, {code_request(fake.issue_code())}));
    ASSERT_TRUE(replies);
    EXPECT_EQ(replies->back().status(), 200u);
}

} // namespace
} // namespace priava_tokend::testing
