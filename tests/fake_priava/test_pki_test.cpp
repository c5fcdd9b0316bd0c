#include "../support/temp_dir.hpp"
#include "fake_priava_fixture.hpp"
#include "test_pki.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include <filesystem>

#include <sys/stat.h>

namespace priava_tokend::testing {
namespace {

/// The TLS handshake of a client that trusts `ca_pem` and checks `host`, against a server
/// presenting `server`.
client_reply handshake(const pem_pair& server, const std::string& ca_pem,
                       const std::string& host = "127.0.0.1") {
    auto server_tls = make_server_tls_context(server);
    auto client_tls = make_client_tls_context(ca_pem);
    net::io_context ioc;
    fake_priava fake(ioc.get_executor(), &server_tls);
    const auto port = fake.listen();
    raw_request ping{"GET", "/api/rest/ping", {}, ""};
    auto replies = run_task(ioc, exchange({port, &client_tls, host}, {ping}));
    if (!replies || replies->empty()) {
        ADD_FAILURE() << "no outcome";
        return {};
    }
    return std::move(replies->back());
}

TEST(TestPki, ServerCertificateVerifiesForLocalhostAndBothLoopbackAddresses) {
    for (const char* host : {"127.0.0.1", "localhost", "::1"}) {
        const auto reply = handshake(shared_pki().server, shared_pki().ca_cert_pem, host);
        EXPECT_FALSE(reply.ec) << host << ": " << reply.ec.message();
        EXPECT_EQ(reply.verify_result, X509_V_OK) << host;
        EXPECT_EQ(reply.status(), 401u) << host; // the fake answered: the handshake passed
    }
}

TEST(TestPki, WrongHostCertificateFailsHostVerification) {
    const auto by_ip = handshake(shared_pki().wrong_host, shared_pki().ca_cert_pem, "127.0.0.1");
    EXPECT_TRUE(by_ip.ec);
    EXPECT_EQ(by_ip.verify_result, X509_V_ERR_IP_ADDRESS_MISMATCH);
    const auto by_name = handshake(shared_pki().wrong_host, shared_pki().ca_cert_pem, "localhost");
    EXPECT_TRUE(by_name.ec);
    EXPECT_EQ(by_name.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST(TestPki, ExpiredCertificateFailsVerification) {
    const auto reply = handshake(shared_pki().expired, shared_pki().ca_cert_pem);
    EXPECT_TRUE(reply.ec);
    EXPECT_EQ(reply.verify_result, X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST(TestPki, CertificateOfAnotherCaFailsVerification) {
    const auto reply = handshake(shared_pki().untrusted, shared_pki().ca_cert_pem);
    EXPECT_TRUE(reply.ec);
    EXPECT_EQ(reply.verify_result, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    // ... and only for that reason: its own CA accepts it.
    EXPECT_FALSE(handshake(shared_pki().untrusted, shared_pki().other_ca_cert_pem).ec);
}

TEST(TestPki, EveryGenerationMakesNewKeys) {
    const auto other = test_pki::generate();
    EXPECT_NE(other.ca_cert_pem, shared_pki().ca_cert_pem);
    EXPECT_NE(other.server.key_pem, shared_pki().server.key_pem);
}

TEST(TestPki, WritesEveryFileWithPrivateKeys) {
    temp_dir dir;
    shared_pki().write(dir.path().string());
    const auto mode = [&](const char* name) {
        struct stat st {};
        EXPECT_EQ(::stat(dir.file(name).c_str(), &st), 0) << name;
        return st.st_mode & 0777;
    };
    for (const char* cert : {"ca.pem", "server.pem", "wrong-host.pem", "expired.pem",
                             "other-ca.pem", "untrusted.pem"}) {
        EXPECT_EQ(mode(cert), 0644u) << cert;
    }
    for (const char* key : {"server.key", "wrong-host.key", "expired.key", "untrusted.key"}) {
        EXPECT_EQ(mode(key), 0600u) << key;
    }
    EXPECT_EQ(read_file(dir.file("ca.pem")), shared_pki().ca_cert_pem);
    EXPECT_EQ(read_file(dir.file("server.key")), shared_pki().server.key_pem);
}

} // namespace
} // namespace priava_tokend::testing
