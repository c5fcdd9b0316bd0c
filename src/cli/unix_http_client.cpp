#include <priava_tokend/cli/unix_http_client.hpp>
#include <priava_tokend/core/run_to_completion.hpp>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/crypto.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using local = net::local::stream_protocol;

constexpr std::size_t largest_reply = 1024 * 1024;

net::awaitable<outcome<http_reply>> exchange(std::string socket_path, http::verb method,
                                             std::string target, std::string body) {
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
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::connection, "close");
    if (!body.empty()) {
        req.set(http::field::content_type, "application/x-www-form-urlencoded");
    }
    req.body() = std::move(body);
    req.prepare_payload();
    auto [write_ec, written] = co_await http::async_write(socket, req, use_nothrow);
    OPENSSL_cleanse(req.body().data(), req.body().size());
    if (write_ec) {
        co_return make_failure(errc::daemon_unreachable,
                               "sending to " + socket_path + " failed: " + write_ec.message());
    }
    boost::beast::flat_buffer buffer;
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

} // namespace

outcome<http_reply> unix_http_request(const std::string& socket_path, http::verb method,
                                      std::string_view target, std::string_view body,
                                      std::chrono::milliseconds timeout) {
    net::io_context io{1};
    auto result = run_to_completion(
        io, exchange(socket_path, method, std::string(target), std::string(body)), timeout);
    if (!result) {
        return make_failure(errc::request_timeout,
                            "the daemon at " + socket_path + " did not answer within " +
                                std::to_string(timeout.count() / 1000) + " s");
    }
    return std::move(*result);
}

} // namespace priava_tokend
