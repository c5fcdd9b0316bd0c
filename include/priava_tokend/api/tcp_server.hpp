#pragma once

#include <priava_tokend/api/socket_api.hpp>
#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/core/notifier.hpp>
#include <priava_tokend/core/secret.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <list>

namespace priava_tokend {

/// The optional TCP listener of the proxy (`proxy.listen_tcp`, loopback only): the socket API
/// for apps whose HTTP client cannot use a Unix socket. Every request is admitted by
/// `tcp_refusal` (no relayed requests, a loopback `Host`, `Priava-Tokend-Auth`); a client names
/// itself for the budget with `Priava-Tokend-Client`. Bootstrap is not served here: it needs the
/// peer's uid, which TCP does not tell.
class tcp_server {
  public:
    struct limits {
        std::size_t max_connections = 256;
        std::chrono::seconds head_timeout{10};
        std::chrono::seconds idle_timeout{60};
        std::chrono::seconds write_timeout{10};
    };

    /// Listens on `endpoint`; throws `boost::system::system_error` naming it when it cannot.
    tcp_server(net::any_io_executor ex, const net::ip::tcp::endpoint& endpoint, socket_api& api,
               secret auth_token, const logger& log, limits l);
    ~tcp_server();
    tcp_server(const tcp_server&) = delete;
    tcp_server& operator=(const tcp_server&) = delete;

    net::awaitable<void> run();
    void stop();
    const net::ip::tcp::endpoint& endpoint() const noexcept { return endpoint_; }

  private:
    struct connection;
    struct registration;
    net::awaitable<void> session(std::list<connection>::iterator self);
    /// One request on `c`; false when the connection is to close.
    net::awaitable<bool> serve_one(connection& c, bool first);
    /// Answers the request read into `c.head`: through the proxy, or the socket API.
    net::awaitable<bool> respond(connection& c, bool proxied, bool keep_alive);
    net::awaitable<bool> write(connection& c, response r, bool keep_alive);
    /// Closes connections past their deadline, once a second, while there are any.
    net::awaitable<void> sweep();

    net::any_io_executor ex_;
    net::ip::tcp::acceptor acceptor_;
    net::ip::tcp::endpoint endpoint_;
    socket_api& api_;
    secret auth_token_;
    const logger& log_;
    limits limits_;
    std::list<connection> connections_;
    notifier changes_;
    bool sweeping_ = false;
    bool stopping_ = false;
};

/// `127.0.0.1:8445`, `[::1]:8445` or `localhost:8445` (as 127.0.0.1) as an endpoint; nothing for
/// anything else.
std::optional<net::ip::tcp::endpoint> loopback_endpoint(std::string_view text);

} // namespace priava_tokend
