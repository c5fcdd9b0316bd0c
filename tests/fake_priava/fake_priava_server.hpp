#pragma once

#include <priava_tokend/core/asio.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace priava_tokend::testing {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

/// How a reply leaves the server.
enum class delivery {
    whole,
    half_then_close, ///< the first half of its bytes, then a close without TLS close_notify
    reset,           ///< nothing: the connection is reset
};

struct server_reply {
    http_response response;
    delivery how = delivery::whole;
};

/// The connection a request arrived on.
struct connection_info {
    boost::asio::ip::tcp::socket& socket;
    bool tls;
};

/// Waits `delay` without blocking the thread; returns true early when the client closes or
/// resets the connection meanwhile (or the server is stopped).
net::awaitable<bool> client_left_during(connection_info connection,
                                        std::chrono::milliseconds delay);

/// The largest request body taken for a request target.
using body_limit_for = std::function<std::uint64_t(std::string_view target)>;

/// Answers one request. Called on the server's executor.
using request_handler = std::function<net::awaitable<server_reply>(http_request&, connection_info)>;

namespace detail {
struct server_state;
}

/// The sockets of the fake: HTTPS (or plain HTTP without a TLS context) on 127.0.0.1 with Beast
/// coroutines. Keep-alive; request head at most 8 KiB (431 beyond), the body at most what
/// `body_limit` says for its target (413 beyond); the TLS handshake and every read and write
/// bounded by `timeout`. Single-threaded, on the executor it
/// is given. Connections open when the object dies are closed.
class fake_priava_server {
  public:
    fake_priava_server(net::any_io_executor ex, net::ssl::context* tls,
                       std::chrono::seconds timeout, body_limit_for body_limit,
                       request_handler handler);
    ~fake_priava_server();
    fake_priava_server(const fake_priava_server&) = delete;
    fake_priava_server& operator=(const fake_priava_server&) = delete;

    /// Binds 127.0.0.1:`port` (0: any free port) and accepts; returns the port. While already
    /// listening only returns the port. Throws `boost::system::system_error`.
    std::uint16_t listen(std::uint16_t port);
    /// Closes the acceptor and every open connection.
    void stop();

    std::uint16_t port() const noexcept;
    bool listening() const noexcept;
    bool tls() const noexcept;

  private:
    std::shared_ptr<detail::server_state> state_;
};

} // namespace priava_tokend::testing
