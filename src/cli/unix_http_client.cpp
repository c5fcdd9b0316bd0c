#include <priava_tokend/api/peer_credentials.hpp>
#include <priava_tokend/cli/unix_http_client.hpp>
#include <priava_tokend/core/run_to_completion.hpp>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/crypto.h>

#include <ostream>
#include <sstream>
#include <vector>

#include <unistd.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using local = net::local::stream_protocol;

constexpr std::size_t largest_reply = 1024 * 1024;

/// Reads the body piece by piece into `sink`: a proxied reply may be of any size.
net::awaitable<boost::system::error_code> stream_body(local::socket& socket,
                                                      boost::beast::flat_buffer& buffer,
                                                      http::response_parser<http::buffer_body>& p,
                                                      std::ostream& sink) {
    std::vector<char> chunk(64 * 1024);
    while (!p.is_done()) {
        p.get().body().data = chunk.data();
        p.get().body().size = chunk.size();
        auto [ec, n] = co_await http::async_read(socket, buffer, p, use_nothrow);
        if (ec && ec != http::error::need_buffer) {
            co_return ec;
        }
        sink.write(chunk.data(), static_cast<std::streamsize>(chunk.size() - p.get().body().size));
    }
    sink.flush();
    co_return boost::system::error_code{};
}

net::awaitable<outcome<http_reply>> read_reply(local::socket& socket,
                                               const std::string& socket_path, std::ostream* sink) {
    boost::beast::flat_buffer buffer;
    if (sink != nullptr) {
        http::response_parser<http::buffer_body> parser;
        parser.body_limit(boost::none);
        auto [head_ec, n] = co_await http::async_read_header(socket, buffer, parser, use_nothrow);
        // An answer other than 2xx is kept whole (it is an error to read), a 2xx one streamed.
        std::ostringstream kept;
        const bool success = parser.get().result_int() / 100 == 2;
        auto ec = head_ec;
        if (!ec) { // not a conditional expression around co_await: g++ 12 mishandles those
            ec = co_await stream_body(socket, buffer, parser, success ? *sink : kept);
        }
        if (ec) {
            co_return make_failure(errc::bad_reply,
                                   "no complete reply from " + socket_path + ": " + ec.message());
        }
        co_return http_reply{parser.get().result_int(), std::move(kept).str()};
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(largest_reply);
    auto [read_ec, read] = co_await http::async_read(socket, buffer, parser, use_nothrow);
    if (read_ec) {
        co_return make_failure(errc::bad_reply,
                               "no complete reply from " + socket_path + ": " + read_ec.message());
    }
    auto reply = parser.release();
    co_return http_reply{reply.result_int(), std::move(reply.body())};
}

/// Who made the listening socket must be the daemon (see unix_http_request_to_daemon).
outcome<void> check_listener(local::socket& socket, const std::string& socket_path, pid_t holder) {
    const auto peer = peer_of(socket.native_handle());
    if (!peer) {
        return make_failure(errc::daemon_unreachable,
                            "cannot tell who listens on " + socket_path + "; nothing sent");
    }
    if (peer->pid == holder || peer->uid == 0 || peer->uid == ::getuid() ||
        peer->uid == ::geteuid()) {
        return {};
    }
    return make_failure(errc::daemon_unreachable,
                        socket_path + " is served by " + peer->describe() +
                            ", not by the daemon that holds the state (pid " +
                            std::to_string(holder) +
                            "): nothing sent. Another user may have taken the socket's path; "
                            "put listen.socket in a directory only root and the daemon can write");
}

net::awaitable<outcome<http_reply>> exchange(std::string socket_path, http::verb method,
                                             std::string target, std::string body,
                                             std::string content_type, std::ostream* sink,
                                             std::optional<pid_t> holder) {
    local::socket socket(co_await net::this_coro::executor);
    auto [connect_ec] = co_await socket.async_connect(local::endpoint(socket_path), use_nothrow);
    if (connect_ec) {
        std::string hint = "is priava-tokend running?";
        if (connect_ec == net::error::access_denied) {
            hint = "this user may not open it (see listen.mode, listen.group)";
        }
        co_return make_failure(errc::daemon_unreachable, "cannot connect to " + socket_path + ": " +
                                                             connect_ec.message() + "; " + hint);
    }
    if (holder) {
        if (auto trusted = check_listener(socket, socket_path, *holder); !trusted) {
            OPENSSL_cleanse(body.data(), body.size());
            co_return trusted.error();
        }
    }
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::connection, "close");
    if (!body.empty()) {
        req.set(http::field::content_type, content_type);
    }
    req.body() = std::move(body);
    req.prepare_payload();
    auto [write_ec, written] = co_await http::async_write(socket, req, use_nothrow);
    OPENSSL_cleanse(req.body().data(), req.body().size());
    if (write_ec) {
        co_return make_failure(errc::daemon_unreachable,
                               "sending to " + socket_path + " failed: " + write_ec.message());
    }
    co_return co_await read_reply(socket, socket_path, sink);
}

/// Either request, with the listener checked when `holder` is set.
outcome<http_reply> request(const std::string& socket_path, http::verb method,
                            std::string_view target, std::string_view body,
                            std::chrono::milliseconds timeout, std::string_view content_type,
                            std::ostream* body_sink, std::optional<pid_t> holder) {
    net::io_context io{1};
    auto result =
        run_to_completion(io,
                          exchange(socket_path, method, std::string(target), std::string(body),
                                   std::string(content_type), body_sink, holder),
                          timeout);
    if (!result) {
        return make_failure(errc::request_timeout,
                            "the daemon at " + socket_path + " did not answer within " +
                                std::to_string(timeout.count() / 1000) + " s");
    }
    return std::move(*result);
}

} // namespace

outcome<http_reply> unix_http_request(const std::string& socket_path, http::verb method,
                                      std::string_view target, std::string_view body,
                                      std::chrono::milliseconds timeout,
                                      std::string_view content_type, std::ostream* body_sink) {
    return request(socket_path, method, target, body, timeout, content_type, body_sink,
                   std::nullopt);
}

outcome<http_reply> unix_http_request_to_daemon(const std::string& socket_path, pid_t holder,
                                                std::string_view target, std::string_view body,
                                                std::chrono::milliseconds timeout) {
    return request(socket_path, http::verb::post, target, body, timeout,
                   "application/x-www-form-urlencoded", nullptr, holder);
}

} // namespace priava_tokend
