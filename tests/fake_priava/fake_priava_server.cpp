#include "fake_priava_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <cerrno>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

#include <sys/socket.h>

namespace priava_tokend::testing {

namespace detail {

using tcp = net::ip::tcp;

struct server_state {
    server_state(net::any_io_executor executor, net::ssl::context* context,
                 std::chrono::seconds io_timeout, body_limit_for limit, request_handler h)
        : ex(std::move(executor))
        , tls(context)
        , timeout(io_timeout)
        , body_limit(std::move(limit))
        , handler(std::move(h)) {}

    void stop() {
        boost::system::error_code ignored;
        if (acceptor) {
            acceptor->close(ignored);
            acceptor.reset();
        }
        for (auto& [id, socket] : connections) {
            socket->shutdown(tcp::socket::shutdown_both, ignored);
            socket->close(ignored);
        }
    }

    net::any_io_executor ex;
    net::ssl::context* tls;
    std::chrono::seconds timeout;
    body_limit_for body_limit;
    request_handler handler;
    std::shared_ptr<tcp::acceptor> acceptor;
    std::uint16_t port = 0;
    std::map<std::uint64_t, tcp::socket*> connections; ///< open ones, for `stop()`
    std::uint64_t next_connection = 0;
};

} // namespace detail

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using namespace detail;
using namespace net::experimental::awaitable_operators;

constexpr std::uint32_t request_head_limit = 8 * 1024;
constexpr auto close_timeout = std::chrono::seconds{2};
constexpr std::uint64_t drain_limit = 64 * 1024 * 1024;

void report_exception(std::exception_ptr e) {
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        std::fprintf(stderr, "fake-priava: connection failed: %s\n", x.what());
    }
}

/// True when the client closed or reset the connection. An HTTP/1.1 client waiting for its reply
/// sends nothing, so over TLS any record (TLS 1.3 encrypts close_notify) means it is leaving.
bool peer_left(tcp::socket& socket, bool tls) {
    char byte = 0;
    const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || (n > 0 && tls);
}

http_response limit_reply(unsigned status, std::string_view what) {
    http_response res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "fake-priava");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(false);
    res.body() = R"({"error":"invalid_request","error_description":")" + std::string(what) +
                 R"( too large"})";
    res.prepare_payload();
    return res;
}

void reset(tcp::socket& socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::socket::linger(true, 0), ignored);
    socket.close(ignored);
}

net::awaitable<void> close_gracefully(beast::ssl_stream<beast::tcp_stream>& stream) {
    beast::get_lowest_layer(stream).expires_after(close_timeout);
    co_await stream.async_shutdown(use_nothrow);
    beast::get_lowest_layer(stream).close();
}

net::awaitable<void> close_gracefully(beast::tcp_stream& stream) {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.close();
    co_return;
}

/// Reads and drops what the client still sends (up to `drain_limit` bytes, for `close_timeout`
/// at most), so that the close after a 413 does not reset the connection before the client has
/// read the reply.
template <class Stream>
net::awaitable<void> drain(Stream& stream, beast::tcp_stream& lowest) {
    lowest.expires_after(close_timeout);
    std::array<char, 16 * 1024> scratch{};
    for (std::uint64_t total = 0; total < drain_limit;) {
        auto [ec, n] = co_await stream.async_read_some(net::buffer(scratch), use_nothrow);
        if (ec) {
            break;
        }
        total += n;
    }
}

template <class Stream>
net::awaitable<void> serve(server_state& s, Stream& stream, beast::tcp_stream& lowest) {
    const connection_info connection{lowest.socket(), !std::is_same_v<Stream, beast::tcp_stream>};
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(request_head_limit);
        parser.body_limit(boost::none); // decided by the target, below
        lowest.expires_after(s.timeout);
        auto [ec, bytes] = co_await http::async_read_header(stream, buffer, parser, use_nothrow);
        if (!ec) {
            const std::uint64_t limit = s.body_limit(parser.get().target());
            if (parser.content_length().value_or(0) > limit) {
                ec = http::error::body_limit;
            } else {
                parser.body_limit(limit);
                std::tie(ec, bytes) =
                    co_await http::async_read(stream, buffer, parser, use_nothrow);
            }
        }
        server_reply r;
        const bool body_left_unread = ec == http::error::body_limit;
        if (ec == http::error::header_limit) {
            r.response = limit_reply(431, "request head");
        } else if (ec == http::error::body_limit) {
            r.response = limit_reply(413, "request body");
        } else if (ec) {
            co_return;
        } else {
            r = co_await s.handler(parser.get(), connection);
        }
        if (r.how == delivery::reset) {
            reset(lowest.socket());
            co_return;
        }
        lowest.expires_after(s.timeout);
        if (r.how == delivery::half_then_close) {
            std::ostringstream wire;
            wire << r.response;
            const std::string all = wire.str();
            co_await net::async_write(stream, net::buffer(all.data(), all.size() / 2), use_nothrow);
            lowest.close();
            co_return;
        }
        auto [write_ec, written] = co_await http::async_write(stream, r.response, use_nothrow);
        if (write_ec) {
            co_return;
        }
        if (body_left_unread) {
            co_await drain(stream, lowest);
        }
        if (!r.response.keep_alive()) {
            break;
        }
    }
    co_await close_gracefully(stream);
}

/// Keeps the connection's socket known to `stop()` while the session lives.
class connection_entry {
  public:
    connection_entry(server_state& s, tcp::socket& socket)
        : s_(s)
        , id_(s.next_connection++) {
        s_.connections.emplace(id_, &socket);
    }
    connection_entry(const connection_entry&) = delete;
    connection_entry& operator=(const connection_entry&) = delete;
    ~connection_entry() { s_.connections.erase(id_); }

  private:
    server_state& s_;
    std::uint64_t id_;
};

net::awaitable<void> session(std::shared_ptr<server_state> s, tcp::socket socket) {
    if (s->tls == nullptr) {
        beast::tcp_stream stream(std::move(socket));
        const connection_entry entry(*s, stream.socket());
        co_await serve(*s, stream, stream);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *s->tls);
    auto& lowest = beast::get_lowest_layer(stream);
    const connection_entry entry(*s, lowest.socket());
    lowest.expires_after(s->timeout);
    auto [ec] = co_await stream.async_handshake(net::ssl::stream_base::server, use_nothrow);
    if (!ec) {
        co_await serve(*s, stream, lowest);
    }
}

net::awaitable<void> accept_loop(std::shared_ptr<server_state> s,
                                 std::shared_ptr<tcp::acceptor> acceptor) {
    while (acceptor->is_open()) {
        auto [ec, socket] = co_await acceptor->async_accept(use_nothrow);
        if (ec == net::error::operation_aborted || !acceptor->is_open()) {
            co_return;
        }
        if (!ec) {
            net::co_spawn(s->ex, session(s, std::move(socket)), report_exception);
        }
    }
}

} // namespace

net::awaitable<bool> client_left_during(connection_info connection,
                                        std::chrono::milliseconds delay) {
    net::steady_timer timer(co_await net::this_coro::executor, delay);
    auto first = co_await (timer.async_wait(use_nothrow) ||
                           connection.socket.async_wait(tcp::socket::wait_read, use_nothrow));
    if (first.index() == 0) {
        co_return false;
    }
    const auto [wait_ec] = std::get<1>(first);
    if (wait_ec || peer_left(connection.socket, connection.tls)) {
        co_return true;
    }
    co_await timer.async_wait(use_nothrow); // pipelined bytes: just wait out the delay
    co_return false;
}

fake_priava_server::fake_priava_server(net::any_io_executor ex, net::ssl::context* tls,
                                       std::chrono::seconds timeout, body_limit_for body_limit,
                                       request_handler handler)
    : state_(std::make_shared<server_state>(std::move(ex), tls, timeout, std::move(body_limit),
                                            std::move(handler))) {}

fake_priava_server::~fake_priava_server() {
    state_->stop();
}

std::uint16_t fake_priava_server::listen(std::uint16_t port) {
    auto& s = *state_;
    if (s.acceptor) {
        return s.port;
    }
    auto acceptor = std::make_shared<tcp::acceptor>(s.ex);
    const tcp::endpoint endpoint{net::ip::address_v4::loopback(), port};
    acceptor->open(endpoint.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    acceptor->bind(endpoint);
    acceptor->listen();
    s.port = acceptor->local_endpoint().port();
    s.acceptor = acceptor;
    net::co_spawn(s.ex, accept_loop(state_, std::move(acceptor)), report_exception);
    return s.port;
}

void fake_priava_server::stop() {
    state_->stop();
}
std::uint16_t fake_priava_server::port() const noexcept {
    return state_->port;
}
bool fake_priava_server::listening() const noexcept {
    return state_->acceptor != nullptr;
}
bool fake_priava_server::tls() const noexcept {
    return state_->tls != nullptr;
}

} // namespace priava_tokend::testing
