#include <priava_tokend/priava/tls_context.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace priava_tokend {
namespace {

namespace ssl = boost::asio::ssl;

std::string openssl_reason() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {
        return "unknown OpenSSL error";
    }
    const char* reason = ERR_reason_error_string(e);
    return reason != nullptr ? reason : "unknown OpenSSL error";
}

} // namespace

outcome<std::shared_ptr<ssl::context>>
make_tls_client_context(const std::optional<std::string>& ca_file) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    if (SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1) {
        return make_failure(errc::tls_failed, "cannot require TLS 1.2: " + openssl_reason());
    }
    // The system store as a hashed directory (SSL_CERT_DIR or OpenSSL's default): certificates
    // are read when a chain needs them, instead of parsing the whole bundle into memory.
    // SSL_CERT_FILE, when set, is loaded as well.
    const char* dir = std::getenv(X509_get_default_cert_dir_env());
    if (SSL_CTX_load_verify_dir(ctx->native_handle(),
                                dir != nullptr ? dir : X509_get_default_cert_dir()) != 1) {
        ERR_clear_error();
    }
    if (const char* file = std::getenv(X509_get_default_cert_file_env()); file != nullptr) {
        if (SSL_CTX_load_verify_file(ctx->native_handle(), file) != 1) {
            return make_failure(errc::file_unreadable,
                                std::string("SSL_CERT_FILE ") + file +
                                    " holds no readable PEM certificate: " + openssl_reason());
        }
    }
    boost::system::error_code ec;
    if (ca_file) {
        ctx->load_verify_file(*ca_file, ec);
        if (ec) {
            return make_failure(errc::file_unreadable,
                                "priava.ca_file " + *ca_file +
                                    " holds no readable PEM certificate: " + openssl_reason());
        }
    }
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

outcome<void> check_ca_file(const std::string& ca_file) {
    std::ifstream in(ca_file, std::ios::binary);
    if (!in.is_open()) {
        return make_failure(errc::file_unreadable,
                            "priava.ca_file " + ca_file + " is not readable");
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return make_failure(errc::file_unreadable,
                            "priava.ca_file " + ca_file + " holds no PEM certificate");
    }
    return {};
}

} // namespace priava_tokend
