#include "../support/temp_dir.hpp"
#include "../support/token_client_driver.hpp"
#include "fake_priava.hpp"
#include "test_pki.hpp"

#include <priava_tokend/priava/oauth_client.hpp>
#include <priava_tokend/priava/tls_context.hpp>
#include <priava_tokend/priava/token_request.hpp>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using testing::fake_priava;
using testing::fault;
using testing::fault_kind;
using testing::test_pki;

const test_pki& pki() {
    static const test_pki instance = test_pki::generate();
    return instance;
}

class OAuthClient : public ::testing::Test {
  protected:
    OAuthClient() {
        testing::write_file(ca_file_, pki().ca_cert_pem, 0644);
        fake_.listen();
    }

    oauth_client client_for(std::string url, milliseconds timeout = 5s,
                            region tenant = region::apac) {
        auto ep = parse_token_url(url);
        EXPECT_TRUE(ep) << url;
        return oauth_client(*ep, tenant, ca_file_, timeout);
    }

    token_outcome request(const oauth_client& client, grant_type grant, const std::string& value,
                          std::string secret_value = "test-secret+/=") {
        const client_credentials credentials{"test-client", secret{std::move(secret_value)},
                                             "https://my.app.com/oauth2callback"};
        const secret body = token_request_body(credentials, grant, secret{value});
        return testing::run_request(io_, client, body);
    }

    token_outcome exchange(const oauth_client& client) {
        return request(client, grant_type::authorization_code, fake_.issue_code());
    }

    net::io_context io_;
    testing::temp_dir dir_;
    std::string ca_file_ = dir_.file("ca.pem");
    net::ssl::context server_tls_ = testing::make_server_tls_context(pki().server);
    fake_priava fake_{io_.get_executor(), &server_tls_};
};

const token_set& tokens(const token_outcome& o) {
    static const token_set none{};
    const auto* t = std::get_if<token_set>(&o);
    EXPECT_NE(t, nullptr) << (std::holds_alternative<transient_failure>(o)
                                  ? std::get<transient_failure>(o).detail
                                  : std::string("rejected"));
    return t != nullptr ? *t : none;
}

const transient_failure& transient(const token_outcome& o) {
    static const transient_failure none{};
    const auto* f = std::get_if<transient_failure>(&o);
    EXPECT_NE(f, nullptr);
    return f != nullptr ? *f : none;
}

const rejection& rejected(const token_outcome& o) {
    static const rejection none{};
    const auto* r = std::get_if<rejection>(&o);
    EXPECT_NE(r, nullptr);
    return r != nullptr ? *r : none;
}

TEST_F(OAuthClient, ExchangesACodeExactlyAsPriavaDocuments) {
    const auto client = client_for(fake_.token_url());
    const token_outcome t_outcome = exchange(client);
    const auto& t = tokens(t_outcome);
    EXPECT_FALSE(t.access_token.empty());
    ASSERT_TRUE(t.refresh_token);
    EXPECT_EQ(t.refresh_token->reveal(), fake_.current_refresh_token());
    EXPECT_EQ(t.expires_in, 21600s);
    const auto& s = fake_.stats();
    EXPECT_EQ(s.authorization_code_grants, 1);
    EXPECT_EQ(s.last_content_type, "application/x-www-form-urlencoded;charset=utf-8");
    EXPECT_EQ(s.last_tenant_region, "APAC");
    EXPECT_EQ(s.last_body_field_names,
              (std::vector<std::string>{"grant_type", "client_id", "client_secret", "code",
                                        "redirect_uri"}));
}

TEST_F(OAuthClient, RefreshRotatesAndTheOldTokenIsConsumed) {
    const auto client = client_for(fake_.token_url());
    const std::string first = tokens(exchange(client)).refresh_token->reveal().data();
    const token_outcome second_outcome = request(client, grant_type::refresh_token, first);
    const auto& second = tokens(second_outcome);
    ASSERT_TRUE(second.refresh_token);
    EXPECT_NE(second.refresh_token->reveal(), first);
    EXPECT_EQ(fake_.stats().last_body_field_names,
              (std::vector<std::string>{"grant_type", "client_id", "client_secret", "refresh_token",
                                        "redirect_uri"}));

    const token_outcome reused_outcome = request(client, grant_type::refresh_token, first);

    const auto& reused = rejected(reused_outcome);
    EXPECT_EQ(reused.error, "invalid_grant");
    EXPECT_EQ(fake_.stats().reuse_attempts, 1);
    EXPECT_EQ(fake_.stats().refresh_grants, 1);
}

TEST_F(OAuthClient, WorksByHostNameWithSni) {
    const auto client =
        client_for("https://localhost:" + std::to_string(fake_.port()) + "/api/rest/oauth/token");
    EXPECT_FALSE(tokens(exchange(client)).access_token.empty());
}

TEST_F(OAuthClient, RejectionsCarryPriavasError) {
    const auto client = client_for(fake_.token_url());
    EXPECT_EQ(rejected(request(client, grant_type::authorization_code, fake_.issue_code(),
                               "wrong-secret"))
                  .error,
              "invalid_client");
    EXPECT_EQ(rejected(request(client, grant_type::authorization_code, "never+issued=")).error,
              "invalid_grant");
    const auto eu = client_for(fake_.token_url(), 5s, region::eu);
    const token_outcome r_outcome = exchange(eu);
    const auto& r = rejected(r_outcome);
    EXPECT_EQ(r.error, "invalid_request");
    EXPECT_FALSE(r.description.empty());
}

TEST_F(OAuthClient, ServerErrorsAreTransient) {
    const auto client = client_for(fake_.token_url());
    fake_.inject(fault::http_status(503));
    fake_.inject(fault::of(fault_kind::html_error));
    const token_outcome f503_outcome = exchange(client);
    const auto& f503 = transient(f503_outcome);
    EXPECT_EQ(f503.reason, errc::server_error);
    EXPECT_EQ(f503.http_status, 503u);
    const token_outcome html_outcome = exchange(client);
    const auto& html = transient(html_outcome);
    EXPECT_EQ(html.reason, errc::server_error);
    EXPECT_EQ(html.http_status, 502u);
}

TEST_F(OAuthClient, RateLimitCarriesPriavasRetryAfter) {
    const auto client = client_for(fake_.token_url());
    fake_.inject(fault::rate_limited(40s));
    const auto before = std::chrono::system_clock::now();
    const token_outcome f_outcome = exchange(client);
    const auto& f = transient(f_outcome);
    EXPECT_EQ(f.reason, errc::rate_limited);
    ASSERT_TRUE(f.retry_after);
    EXPECT_GE(*f.retry_after, before + 38s);
    EXPECT_LE(*f.retry_after, before + 42s);
}

TEST_F(OAuthClient, MalformedAndOversizedRepliesAreTransient) {
    const auto client = client_for(fake_.token_url());
    fake_.inject(fault::of(fault_kind::malformed));
    fake_.inject(fault::of(fault_kind::oversized));
    EXPECT_EQ(transient(exchange(client)).reason, errc::malformed_response);
    EXPECT_EQ(transient(exchange(client)).reason, errc::response_too_large);
}

TEST_F(OAuthClient, MalformedReplyWithANewRefreshTokenHandsItOver) {
    const auto client = client_for(fake_.token_url());
    fake_.inject(fault::of(fault_kind::malformed_with_refresh));
    const token_outcome f_outcome = exchange(client);
    const auto& f = transient(f_outcome);
    ASSERT_TRUE(f.rotated_refresh_token);
    EXPECT_EQ(f.rotated_refresh_token->reveal(), fake_.current_refresh_token());
}

TEST_F(OAuthClient, DroppedConnectionsAreTransient) {
    const auto client = client_for(fake_.token_url());
    fake_.inject(fault::of(fault_kind::drop_before));
    fake_.inject(fault::of(fault_kind::drop_after));
    EXPECT_EQ(transient(exchange(client)).reason, errc::connection_lost);
    EXPECT_EQ(transient(exchange(client)).reason, errc::connection_lost);
}

TEST_F(OAuthClient, OneDeadlineCoversTheWholeRequest) {
    const auto client = client_for(fake_.token_url(), 300ms);
    const std::string code = fake_.issue_code();
    fake_.inject(fault::delayed(3s));
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(transient(request(client, grant_type::authorization_code, code)).reason,
              errc::request_timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
    // The fake had not processed the grant, so the code is still good.
    const auto patient = client_for(fake_.token_url());
    EXPECT_FALSE(
        tokens(request(patient, grant_type::authorization_code, code)).access_token.empty());
}

TEST_F(OAuthClient, RefusedConnectionIsTransient) {
    const auto client = client_for(fake_.token_url());
    fake_.stop();
    const token_outcome f_outcome = exchange(client);
    const auto& f = transient(f_outcome);
    EXPECT_EQ(f.reason, errc::connect_failed);
    EXPECT_NE(f.detail.find("127.0.0.1"), std::string::npos);
}

TEST_F(OAuthClient, PlainHttpToLoopbackWorks) {
    fake_priava plain{io_.get_executor(), nullptr};
    plain.listen();
    const auto client = client_for(plain.token_url());
    EXPECT_FALSE(tokens(request(client, grant_type::authorization_code, plain.issue_code()))
                     .access_token.empty());
}

struct bad_certificate {
    const char* name;
    testing::pem_pair test_pki::*pair;
    const char* reason;
};

class OAuthClientTls : public OAuthClient, public ::testing::WithParamInterface<bad_certificate> {};

TEST_P(OAuthClientTls, RefusesTheCertificate) {
    net::ssl::context bad_tls = testing::make_server_tls_context(pki().*(GetParam().pair));
    fake_priava bad{io_.get_executor(), &bad_tls};
    bad.listen();
    const auto client = client_for(bad.token_url());
    const token_outcome f_outcome =
        request(client, grant_type::authorization_code, bad.issue_code());
    const auto& f = transient(f_outcome);
    EXPECT_EQ(f.reason, errc::tls_failed);
    EXPECT_NE(f.detail.find(GetParam().reason), std::string::npos) << f.detail;
    EXPECT_EQ(bad.stats().requests, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Certificates, OAuthClientTls,
    ::testing::Values(bad_certificate{"WrongHost", &test_pki::wrong_host, "mismatch"},
                      bad_certificate{"Expired", &test_pki::expired, "expired"},
                      bad_certificate{"UntrustedCa", &test_pki::untrusted, "issuer"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(TlsContext, QuickCaFileCheckNeedsAPemCertificate) {
    testing::temp_dir dir;
    testing::write_file(dir.file("ca.pem"), pki().ca_cert_pem);
    testing::write_file(dir.file("junk.pem"), "not a certificate");
    EXPECT_TRUE(check_ca_file(dir.file("ca.pem")));
    EXPECT_FALSE(check_ca_file(dir.file("junk.pem")));
    EXPECT_FALSE(check_ca_file(dir.file("missing.pem")));
}

TEST_F(OAuthClient, AnUnusableCaFileFailsTheRequestNamingIt) {
    testing::write_file(ca_file_, "-----BEGIN CERTIFICATE-----\ngarbage\n", 0644);
    const auto client = client_for(fake_.token_url());
    const token_outcome o = exchange(client);
    const auto& f = transient(o);
    EXPECT_EQ(f.reason, errc::tls_failed);
    EXPECT_NE(f.detail.find(ca_file_), std::string::npos) << f.detail;
}

TEST(TlsContext, UnreadableCaFileIsNamed) {
    const auto ctx = make_tls_client_context(std::string("/nonexistent/ca.pem"));
    ASSERT_FALSE(ctx);
    EXPECT_NE(ctx.error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

} // namespace
} // namespace priava_tokend
