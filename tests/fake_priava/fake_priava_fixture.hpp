#pragma once

#include "fake_priava.hpp"
#include "test_client.hpp"
#include "test_pki.hpp"

#include <priava_tokend/priava/token_request.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

namespace priava_tokend::testing {

/// One PKI for the whole test program: generating it takes a few milliseconds.
inline const test_pki& shared_pki() {
    static const test_pki pki = test_pki::generate();
    return pki;
}

/// The credential `fake_priava_options` accepts by default.
inline const client_credentials credentials{"test-client", secret{"test-secret+/="},
                                            "https://my.app.com/oauth2callback"};

inline raw_request code_request(const std::string& code) {
    return token_request(std::string(
        token_request_body(credentials, grant_type::authorization_code, secret{code}).reveal()));
}

inline raw_request refresh_request(const std::string& refresh_token) {
    return token_request(std::string(
        token_request_body(credentials, grant_type::refresh_token, secret{refresh_token})
            .reveal()));
}

inline boost::json::object object_of(const client_reply& reply) {
    boost::system::error_code ec;
    auto value = boost::json::parse(reply.body(), ec);
    if (ec || !value.is_object()) {
        ADD_FAILURE() << "not a JSON object: " << reply.body().substr(0, 200);
        return {};
    }
    return value.as_object();
}

inline std::string string_at(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

/// A TLS fake on the test's io_context and a client that trusts its CA.
class FakePriava : public ::testing::Test {
  protected:
    net::ssl::context server_tls = make_server_tls_context(shared_pki().server);
    net::ssl::context client_tls = make_client_tls_context(shared_pki().ca_cert_pem);
    net::io_context ioc;
    fake_priava fake{ioc.get_executor(), &server_tls};
    std::uint16_t port = fake.listen();

    std::vector<client_reply> send_all(std::vector<raw_request> requests,
                                       std::chrono::milliseconds timeout = std::chrono::seconds{
                                           5}) {
        auto replies =
            run_task(ioc, exchange({port, &client_tls, "127.0.0.1", timeout}, std::move(requests)));
        if (!replies) {
            ADD_FAILURE() << "the client did not finish in time";
            return {};
        }
        return std::move(*replies);
    }

    client_reply send(raw_request request,
                      std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
        auto replies = send_all({std::move(request)}, timeout);
        return replies.empty() ? client_reply{} : std::move(replies.back());
    }

    /// Sends and expects Priava's 400 with `error`.
    void expect_rejection(raw_request request, std::string_view error) {
        const auto reply = send(std::move(request));
        ASSERT_FALSE(reply.ec) << reply.ec.message();
        EXPECT_EQ(reply.status(), 400u);
        EXPECT_EQ(reply.response[boost::beast::http::field::content_type], "application/json");
        const auto body = object_of(reply);
        EXPECT_EQ(string_at(body, "error"), error);
        EXPECT_FALSE(string_at(body, "error_description").empty());
    }

    /// Exchanges a fresh code; the reply's body.
    boost::json::object bootstrap() {
        const auto reply = send(code_request(fake.issue_code()));
        EXPECT_FALSE(reply.ec) << reply.ec.message();
        EXPECT_EQ(reply.status(), 200u) << reply.body();
        return object_of(reply);
    }

    void expect_code_still_valid(const std::string& code) {
        const auto reply = send(code_request(code));
        EXPECT_FALSE(reply.ec) << reply.ec.message();
        EXPECT_EQ(reply.status(), 200u) << reply.body();
    }
};

} // namespace priava_tokend::testing
