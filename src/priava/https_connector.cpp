#include <priava_tokend/priava/https_connector.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <memory>

#include <arpa/inet.h>

namespace priava_tokend::https_connector {
namespace {

namespace beast = boost::beast;

transient_failure transient(errc reason, std::string detail) {
    return transient_failure{reason, std::move(detail), 0, std::nullopt, std::nullopt};
}

} // namespace

bool timed_out(const boost::system::error_code& ec, deadline until) {
    return ec == beast::error::timeout || std::chrono::steady_clock::now() >= until;
}

bool is_ip_literal(const std::string& host) {
    in6_addr buf{};
    return ::inet_pton(AF_INET, host.c_str(), &buf) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

net::awaitable<std::variant<tcp::resolver::results_type, transient_failure>>
resolve(const token_endpoint& ep, deadline until) {
    auto ex = co_await net::this_coro::executor;
    if (is_ip_literal(ep.host)) {
        co_return tcp::resolver::results_type::create(
            tcp::endpoint{net::ip::make_address(ep.host), ep.port}, ep.host,
            std::to_string(ep.port));
    }
    auto resolver = std::make_shared<tcp::resolver>(ex);
    net::steady_timer timer(ex, until);
    timer.async_wait([resolver](boost::system::error_code ec) {
        if (!ec) {
            resolver->cancel();
        }
    });
    auto [ec, results] =
        co_await resolver->async_resolve(ep.host, std::to_string(ep.port), use_nothrow);
    timer.cancel();
    if (ec) {
        if (timed_out(ec, until)) {
            co_return transient(errc::request_timeout, "timed out resolving " + ep.host);
        }
        co_return transient(errc::resolve_failed,
                            "cannot resolve " + ep.host + ": " + ec.message());
    }
    co_return results;
}

net::awaitable<std::optional<transient_failure>> connect(beast::tcp_stream& socket,
                                                         const tcp::resolver::results_type& results,
                                                         deadline until, const std::string& where) {
    socket.expires_at(until);
    auto [ec, connected] = co_await socket.async_connect(results, use_nothrow);
    if (!ec) {
        co_return std::nullopt;
    }
    co_return transient(timed_out(ec, until) ? errc::request_timeout : errc::connect_failed,
                        "cannot connect to " + where + ": " + ec.message());
}

void expect_peer(SSL* ssl, const std::string& host) {
    if (is_ip_literal(host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
        SSL_set_tlsext_host_name(ssl, host.c_str());
        SSL_set1_host(ssl, host.c_str());
    }
}

transient_failure handshake_failure(SSL* ssl, const boost::system::error_code& ec, deadline until,
                                    const std::string& where) {
    if (timed_out(ec, until)) {
        return transient(errc::request_timeout,
                         "TLS handshake with " + where + " did not finish before request_timeout");
    }
    const long verify = SSL_get_verify_result(ssl);
    const std::string reason = verify != X509_V_OK ? std::string("certificate not trusted: ") +
                                                         X509_verify_cert_error_string(verify)
                                                   : ec.message();
    return transient(errc::tls_failed, "TLS handshake with " + where + " failed: " + reason);
}

net::awaitable<std::optional<transient_failure>>
handshake(beast::ssl_stream<beast::tcp_stream>& stream, const std::string& host, deadline until,
          const std::string& where) {
    expect_peer(stream.native_handle(), host);
    beast::get_lowest_layer(stream).expires_at(until);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::client, use_nothrow);
    if (!ec) {
        co_return std::nullopt;
    }
    co_return handshake_failure(stream.native_handle(), ec, until, where);
}

} // namespace priava_tokend::https_connector
