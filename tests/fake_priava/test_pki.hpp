#pragma once

#include <boost/asio/ssl/context.hpp>

#include <string>

namespace priava_tokend::testing {

/// A certificate and its private key, both PEM.
struct pem_pair {
    std::string cert_pem;
    std::string key_pem;
};

/// Certificates made at test time (EC P-256 keys, SHA-256 signatures) for the fake Priava and
/// the TLS checks of the client: one good server certificate and one for each way verification
/// must fail. Leaves carry `serverAuth` and the SANs `DNS:localhost, IP:127.0.0.1, IP:::1`
/// unless said otherwise.
struct test_pki {
    /// Throws `std::runtime_error` naming the OpenSSL step that failed.
    static test_pki generate();

    std::string ca_cert_pem; ///< self-signed CA (CA:TRUE, keyCertSign)
    pem_pair server;         ///< signed by the CA, valid from an hour ago for a day
    pem_pair wrong_host;     ///< signed by the CA, SAN `DNS:wrong.example` only
    pem_pair expired;        ///< signed by the CA, valid from two days ago until yesterday
    std::string other_ca_cert_pem;
    pem_pair untrusted; ///< right SANs, signed by the other CA

    /// Writes `ca.pem`, `server.pem`, `server.key`, `wrong-host.pem/.key`, `expired.pem/.key`,
    /// `other-ca.pem`, `untrusted.pem/.key` into the existing directory `dir`; keys get mode 0600,
    /// certificates 0644. Throws `std::runtime_error` when a file cannot be written.
    void write(const std::string& dir) const;
};

/// A TLS 1.2+ server context presenting `pair` (certificate and key).
boost::asio::ssl::context make_server_tls_context(const pem_pair& pair);

/// A TLS 1.2+ client context that trusts exactly `ca_cert_pem` and verifies the peer. Host names
/// are checked per connection.
boost::asio::ssl::context make_client_tls_context(const std::string& ca_cert_pem);

} // namespace priava_tokend::testing
