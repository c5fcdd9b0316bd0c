#include <priava_tokend/tls_context.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

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
    boost::system::error_code ec;
    ctx->set_default_verify_paths(ec);
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

} // namespace priava_tokend
