#include "fake_priava_fixture.hpp"
#include "fault.hpp"

#include <priava_tokend/core/timestamp.hpp>

#include <boost/beast/core/error.hpp>

#include <regex>

namespace priava_tokend::testing {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

using FakePriavaFault = FakePriava;

TEST_F(FakePriavaFault, StatusFaultAnswersForItsCountAndConsumesNothing) {
    const auto code = fake.issue_code();
    fake.inject(fault::http_status(503, 2));
    for (int i = 0; i < 2; ++i) {
        const auto reply = send(code_request(code));
        EXPECT_EQ(reply.status(), 503u);
        EXPECT_EQ(string_at(object_of(reply), "error"), "server_error");
    }
    expect_code_still_valid(code);
    EXPECT_EQ(fake.stats().faults_applied, 2);
    EXPECT_EQ(fake.stats().requests, 3);
}

TEST_F(FakePriavaFault, FaultsApplyFirstInFirstOut) {
    fake.inject(fault::http_status(500));
    fake.inject(fault::of(fault_kind::html_error));
    EXPECT_EQ(send(code_request("x")).status(), 500u);
    EXPECT_EQ(send(code_request("x")).status(), 502u);
    EXPECT_EQ(fake.pending_faults(), 0u);
}

TEST_F(FakePriavaFault, FaultWithCountZeroAppliesUntilCleared) {
    const auto code = fake.issue_code();
    fake.inject(fault::http_status(502, 0));
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(send(code_request(code)).status(), 502u);
    }
    fake.clear_faults();
    expect_code_still_valid(code);
}

TEST_F(FakePriavaFault, RateLimitFaultCarriesPriavasRetryAfterDateWithoutZone) {
    const auto code = fake.issue_code();
    fake.inject(fault::rate_limited(30s));
    const auto before = std::chrono::system_clock::now();
    const auto reply = send(code_request(code));
    const auto after = std::chrono::system_clock::now();
    EXPECT_EQ(reply.status(), 429u);
    const auto body = object_of(reply);
    EXPECT_EQ(string_at(body, "error"), "rate_limit_exceeded");
    const auto retry_after = string_at(body, "retry-after");
    EXPECT_TRUE(std::regex_match(retry_after, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)")))
        << retry_after;
    const auto when = parse_priava_retry_after(retry_after);
    ASSERT_TRUE(when);
    EXPECT_GE(*when, before + 29s);
    EXPECT_LE(*when, after + 30s);
    expect_code_still_valid(code);
}

TEST_F(FakePriavaFault, DelayFaultAnswersAfterTheDelay) {
    fake.inject(fault::delayed(200ms));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(send(code_request(fake.issue_code())).status(), 200u);
    EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
}

TEST_F(FakePriavaFault, DelayFaultConsumesNothingWhenTheClientGivesUp) {
    const auto code = fake.issue_code();
    fake.inject(fault::delayed(60s));
    const auto reply = send(code_request(code), 200ms);
    EXPECT_EQ(reply.ec, boost::beast::error::timeout) << reply.ec.message();
    EXPECT_TRUE(run_until(
        ioc, [&] { return fake.stats().abandoned_requests == 1; }, 5s));
    EXPECT_EQ(fake.stats().authorization_code_grants, 0);
    expect_code_still_valid(code);
}

TEST_F(FakePriavaFault, DelayAfterFaultProcessesTheGrantBeforeItWaits) {
    const auto code = fake.issue_code();
    fault late = fault::of(fault_kind::delay_after);
    late.delay = 60s;
    fake.inject(late);
    const auto reply = send(code_request(code), 200ms);
    EXPECT_EQ(reply.ec, boost::beast::error::timeout) << reply.ec.message();
    EXPECT_TRUE(run_until(
        ioc, [&] { return fake.stats().abandoned_requests == 1; }, 5s));
    EXPECT_EQ(fake.stats().authorization_code_grants, 1) << "the code is spent all the same";
    const auto again = send(code_request(code));
    EXPECT_EQ(again.status(), 400u);
}

TEST_F(FakePriavaFault, HtmlErrorFaultAnswers502WithAPage) {
    const auto code = fake.issue_code();
    fake.inject(fault::of(fault_kind::html_error));
    const auto reply = send(code_request(code));
    EXPECT_EQ(reply.status(), 502u);
    EXPECT_EQ(reply.response[http::field::content_type], "text/html");
    EXPECT_NE(reply.body().find("<html>"), std::string::npos);
    expect_code_still_valid(code);
}

TEST_F(FakePriavaFault, MalformedFaultAnswers200WithoutJson) {
    const auto code = fake.issue_code();
    fake.inject(fault::of(fault_kind::malformed));
    const auto reply = send(code_request(code));
    EXPECT_EQ(reply.status(), 200u);
    boost::system::error_code ec;
    json::parse(reply.body(), ec);
    EXPECT_TRUE(ec);
    expect_code_still_valid(code);
}

TEST_F(FakePriavaFault, MalformedWithRefreshFaultRotatesButSendsNoAccessToken) {
    const auto old_token = string_at(bootstrap(), "refresh_token");
    fake.inject(fault::of(fault_kind::malformed_with_refresh));
    const auto reply = send(refresh_request(old_token));
    EXPECT_EQ(reply.status(), 200u);
    const auto body = object_of(reply);
    EXPECT_FALSE(body.contains("access_token"));
    EXPECT_EQ(string_at(body, "refresh_token"), fake.current_refresh_token());
    EXPECT_NE(fake.current_refresh_token(), old_token);
    expect_rejection(refresh_request(old_token), "invalid_grant");
    EXPECT_EQ(fake.stats().reuse_attempts, 1);
}

TEST_F(FakePriavaFault, OversizedFaultAnswers100KiB) {
    const auto code = fake.issue_code();
    fake.inject(fault::of(fault_kind::oversized));
    const auto reply = send(code_request(code));
    EXPECT_EQ(reply.status(), 200u);
    EXPECT_EQ(reply.body().size(), 100u * 1024);
    expect_code_still_valid(code);
}

TEST_F(FakePriavaFault, OmitRefreshTokenFaultKeepsTheOldRefreshTokenValid) {
    const auto old_token = string_at(bootstrap(), "refresh_token");
    fake.inject(fault::of(fault_kind::omit_refresh_token));
    const auto reply = send(refresh_request(old_token));
    EXPECT_EQ(reply.status(), 200u);
    const auto body = object_of(reply);
    EXPECT_FALSE(body.contains("refresh_token"));
    EXPECT_FALSE(string_at(body, "access_token").empty());
    EXPECT_EQ(fake.current_refresh_token(), old_token);
    EXPECT_EQ(send(refresh_request(old_token)).status(), 200u);
}

TEST_F(FakePriavaFault, DropBeforeFaultClosesWithoutConsuming) {
    const auto code = fake.issue_code();
    fake.inject(fault::of(fault_kind::drop_before));
    const auto reply = send(code_request(code));
    EXPECT_TRUE(reply.ec);
    expect_code_still_valid(code);
}

TEST_F(FakePriavaFault, DropAfterFaultRotatesThenCutsTheReply) {
    const auto old_token = string_at(bootstrap(), "refresh_token");
    fake.inject(fault::of(fault_kind::drop_after));
    const auto reply = send(refresh_request(old_token));
    EXPECT_TRUE(reply.ec);
    EXPECT_EQ(fake.stats().refresh_grants, 1);
    EXPECT_NE(fake.current_refresh_token(), old_token);
    expect_rejection(refresh_request(old_token), "invalid_grant");
}

TEST(Faults, ParseTheControlApiList) {
    const auto faults =
        parse_faults(R"([{"kind":"status","status":503,"count":2},)"
                     R"({"kind":"rate_limit","retry_after":30,"count":1},)"
                     R"({"kind":"delay","ms":2000,"count":1},{"kind":"drop_after"}])");
    ASSERT_TRUE(faults) << faults.error();
    ASSERT_EQ(faults->size(), 4u);
    EXPECT_EQ((*faults)[0].kind, fault_kind::status);
    EXPECT_EQ((*faults)[0].status, 503u);
    EXPECT_EQ((*faults)[0].count, 2u);
    EXPECT_EQ((*faults)[1].retry_after, 30s);
    EXPECT_EQ((*faults)[2].delay, 2000ms);
    EXPECT_EQ((*faults)[3].kind, fault_kind::drop_after);
    EXPECT_EQ((*faults)[3].count, 1u);
}

TEST(Faults, ParseADelayAfterTheGrantWithItsMilliseconds) {
    const auto late = parse_faults(R"({"kind":"delay_after","ms":1500})");
    ASSERT_TRUE(late) << late.error();
    EXPECT_EQ((*late)[0].kind, fault_kind::delay_after);
    EXPECT_EQ((*late)[0].delay, 1500ms);
}

TEST(Faults, RefuseUnknownKindsKeysAndBadValues) {
    EXPECT_FALSE(parse_faults(R"([{"kind":"explode"}])"));
    EXPECT_FALSE(parse_faults(R"([{"kind":"status","ms":5}])"));
    EXPECT_FALSE(parse_faults(R"([{"kind":"status","status":"503"}])"));
    EXPECT_FALSE(parse_faults(R"([{"kind":"delay","ms":-1}])"));
    EXPECT_FALSE(parse_faults("not json"));
}

TEST(Faults, QueueUsesUpCountsInOrder) {
    fault_queue queue;
    queue.push(fault::http_status(500, 2));
    queue.push(fault::of(fault_kind::malformed));
    EXPECT_EQ(queue.take()->status, 500u);
    EXPECT_EQ(queue.take()->status, 500u);
    EXPECT_EQ(queue.take()->kind, fault_kind::malformed);
    EXPECT_FALSE(queue.take());
}

} // namespace
} // namespace priava_tokend::testing
