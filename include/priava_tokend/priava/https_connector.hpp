#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/priava/token_endpoint.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <variant>

typedef struct ssl_st SSL;

namespace priava_tokend {

/// The steps of reaching a Priava host, shared by the token client and the API proxy's pool.
/// Each takes the deadline of the whole exchange and names `where` (the host) in its failure.
namespace https_connector {

using tcp = net::ip::tcp;
using deadline = std::chrono::steady_clock::time_point;

/// True for an IPv4 or IPv6 address literal.
bool is_ip_literal(const std::string& host);

/// An error that is the deadline's: Beast's timeout, or any error at or after it.
bool timed_out(const boost::system::error_code& ec, deadline until);

/// The host's addresses (an IP literal without asking); `getaddrinfo` runs on Asio's helper
/// thread, so the deadline cancels it rather than waiting out a slow DNS server.
net::awaitable<std::variant<tcp::resolver::results_type, transient_failure>>
resolve(const token_endpoint& ep, deadline until);

/// Connects `socket` to the first address that answers.
net::awaitable<std::optional<transient_failure>> connect(boost::beast::tcp_stream& socket,
                                                         const tcp::resolver::results_type& results,
                                                         deadline until, const std::string& where);

/// Sets SNI and the name (or IP address) `host` the certificate must carry.
void expect_peer(SSL* ssl, const std::string& host);

/// What a failed TLS handshake is: a timeout, an untrusted certificate (named), or `ec`.
transient_failure handshake_failure(SSL* ssl, const boost::system::error_code& ec, deadline until,
                                    const std::string& where);

/// TLS with SNI, the certificate checked against the host name (or IP address) `host`.
net::awaitable<std::optional<transient_failure>>
handshake(boost::beast::ssl_stream<boost::beast::tcp_stream>& stream, const std::string& host,
          deadline until, const std::string& where);

} // namespace https_connector
} // namespace priava_tokend
