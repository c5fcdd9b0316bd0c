#include <priava_tokend/core/version.hpp>
#include <priava_tokend/priava/oauth_client.hpp>
#include <priava_tokend/priava/tls_context.hpp>
#include <priava_tokend/priava/token_request.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>

namespace priava_tokend {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using std::chrono::steady_clock;

constexpr std::size_t largest_response_head = 16 * 1024;

transient_failure transient(errc reason, std::string detail) {
    return transient_failure{reason, std::move(detail), 0, std::nullopt, std::nullopt};
}

bool is_ip_literal(const std::string& host) {
    in6_addr buf{};
    return ::inet_pton(AF_INET, host.c_str(), &buf) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

bool timed_out(const boost::system::error_code& ec, steady_clock::time_point deadline) {
    return ec == beast::error::timeout || steady_clock::now() >= deadline;
}

/// Resolves with the request's deadline: the resolver runs getaddrinfo on a helper thread, so a
/// timer cancels it rather than waiting out a slow DNS server.
net::awaitable<std::variant<tcp::resolver::results_type, transient_failure>>
resolve(const token_endpoint& ep, steady_clock::time_point deadline) {
    auto ex = co_await net::this_coro::executor;
    if (is_ip_literal(ep.host)) {
        co_return tcp::resolver::results_type::create(
            tcp::endpoint{net::ip::make_address(ep.host), ep.port}, ep.host,
            std::to_string(ep.port));
    }
    auto resolver = std::make_shared<tcp::resolver>(ex);
    net::steady_timer timer(ex, deadline);
    timer.async_wait([resolver](boost::system::error_code ec) {
        if (!ec) {
            resolver->cancel();
        }
    });
    auto [ec, results] =
        co_await resolver->async_resolve(ep.host, std::to_string(ep.port), use_nothrow);
    timer.cancel();
    if (ec) {
        if (timed_out(ec, deadline)) {
            co_return transient(errc::request_timeout, "timed out resolving " + ep.host);
        }
        co_return transient(errc::resolve_failed,
                            "cannot resolve " + ep.host + ": " + ec.message());
    }
    co_return results;
}

template <class Stream>
net::awaitable<token_outcome>
exchange(Stream& stream, beast::tcp_stream& socket, http::request<http::string_body>& req,
         steady_clock::time_point deadline, const std::string& where) {
    socket.expires_at(deadline);
    auto [write_ec, written] = co_await http::async_write(stream, req, use_nothrow);
    wipe(req.body());
    if (write_ec) {
        co_return transient(timed_out(write_ec, deadline) ? errc::request_timeout
                                                          : errc::connection_lost,
                            "sending the token request to " + where + ": " + write_ec.message());
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(largest_response_head);
    parser.body_limit(largest_token_response);
    socket.expires_at(deadline);
    auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (read_ec == http::error::body_limit || read_ec == http::error::header_limit ||
        read_ec == http::error::buffer_overflow) {
        co_return transient(errc::response_too_large,
                            "reply from " + where + " is larger than 64 KiB");
    }
    if (read_ec) {
        if (timed_out(read_ec, deadline)) {
            co_return transient(errc::request_timeout,
                                "no complete reply from " + where + " before request_timeout");
        }
        const bool garbled =
            read_ec.category() == http::make_error_code(http::error::bad_version).category() &&
            read_ec != http::error::partial_message && read_ec != http::error::end_of_stream;
        co_return transient(garbled ? errc::malformed_response : errc::connection_lost,
                            "reading the reply from " + where + ": " + read_ec.message());
    }
    auto response = parser.release();
    const auto retry_after = response[http::field::retry_after];
    auto outcome = classify_token_response(response.result_int(), response.body(), retry_after,
                                           std::chrono::system_clock::now());
    wipe(response.body());
    buffer.consume(buffer.size());
    co_return outcome;
}

/// The token request as Priava's page shows it.
http::request<http::string_body> token_http_request(const token_endpoint& ep, region tenant,
                                                    const secret& body) {
    http::request<http::string_body> req{http::verb::post, ep.target, 11};
    req.set(http::field::host, ep.host_header);
    req.set(http::field::content_type, token_request_content_type);
    req.set("TenantRegion", to_string(tenant));
    req.set(http::field::accept, "application/json");
    req.set(http::field::user_agent, "priava-tokend/" + std::string(version()));
    req.set(http::field::connection, "close");
    req.body().assign(body.reveal());
    req.prepare_payload();
    return req;
}

net::awaitable<std::optional<transient_failure>> connect(beast::tcp_stream& socket,
                                                         const tcp::resolver::results_type& results,
                                                         steady_clock::time_point deadline,
                                                         const std::string& where) {
    socket.expires_at(deadline);
    auto [ec, connected] = co_await socket.async_connect(results, use_nothrow);
    if (!ec) {
        co_return std::nullopt;
    }
    co_return transient(timed_out(ec, deadline) ? errc::request_timeout : errc::connect_failed,
                        "cannot connect to " + where + ": " + ec.message());
}

/// TLS with SNI, the certificate checked against the host name (or IP address) of the URL.
net::awaitable<std::optional<transient_failure>>
handshake(beast::ssl_stream<beast::tcp_stream>& stream, const std::string& host,
          steady_clock::time_point deadline, const std::string& where) {
    SSL* ssl = stream.native_handle();
    if (is_ip_literal(host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
        SSL_set_tlsext_host_name(ssl, host.c_str());
        SSL_set1_host(ssl, host.c_str());
    }
    beast::get_lowest_layer(stream).expires_at(deadline);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::client, use_nothrow);
    if (!ec) {
        co_return std::nullopt;
    }
    if (timed_out(ec, deadline)) {
        co_return transient(errc::request_timeout, "TLS handshake with " + where +
                                                       " did not finish before request_timeout");
    }
    const long verify = SSL_get_verify_result(ssl);
    const std::string reason = verify != X509_V_OK ? std::string("certificate not trusted: ") +
                                                         X509_verify_cert_error_string(verify)
                                                   : ec.message();
    co_return transient(errc::tls_failed, "TLS handshake with " + where + " failed: " + reason);
}

} // namespace

oauth_client::oauth_client(token_endpoint endpoint, region tenant,
                           std::optional<std::string> ca_file, milliseconds timeout)
    : endpoint_(std::move(endpoint))
    , tenant_(tenant)
    , ca_file_(std::move(ca_file))
    , timeout_(timeout) {}

net::awaitable<token_outcome> oauth_client::request(const secret& body) const {
    const auto deadline = steady_clock::now() + timeout_;
    const std::string& where = endpoint_.host_header;
    auto resolved = co_await resolve(endpoint_, deadline);
    if (auto* f = std::get_if<transient_failure>(&resolved)) {
        co_return std::move(*f);
    }
    beast::tcp_stream socket(co_await net::this_coro::executor);
    auto refused =
        co_await connect(socket, std::get<tcp::resolver::results_type>(resolved), deadline, where);
    if (refused) {
        co_return std::move(*refused);
    }
    auto req = token_http_request(endpoint_, tenant_, body);
    if (!endpoint_.tls) {
        co_return co_await exchange(socket, socket, req, deadline, where);
    }
    auto tls = make_tls_client_context(ca_file_);
    if (!tls) {
        wipe(req.body());
        co_return transient(errc::tls_failed, tls.error().message);
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), **tls);
    auto untrusted = co_await handshake(stream, endpoint_.host, deadline, where);
    if (untrusted) {
        wipe(req.body());
        co_return std::move(*untrusted);
    }
    co_return co_await exchange(stream, beast::get_lowest_layer(stream), req, deadline, where);
}

} // namespace priava_tokend
