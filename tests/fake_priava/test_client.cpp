#include "test_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

#include <arpa/inet.h>

namespace priava_tokend::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::uint32_t reply_head_limit = 16 * 1024;
constexpr std::uint64_t reply_body_limit = 1024 * 1024;

bool is_ip_address(const std::string& host) {
    in6_addr buf{};
    return ::inet_pton(AF_INET, host.c_str(), &buf) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

template <class Stream, class Lowest>
net::awaitable<std::vector<client_reply>> talk(Stream& stream, Lowest& lowest,
                                               const std::vector<raw_request>& requests,
                                               std::chrono::milliseconds timeout) {
    beast::flat_buffer buffer;
    std::vector<client_reply> replies;
    for (const auto& request : requests) {
        client_reply& reply = replies.emplace_back();
        const std::string wire = request.wire();
        lowest.expires_after(timeout);
        auto [write_ec, written] =
            co_await net::async_write(stream, net::buffer(wire), use_nothrow);
        if (write_ec) {
            reply.ec = write_ec;
            break;
        }
        http::response_parser<http::string_body> parser;
        parser.header_limit(reply_head_limit);
        parser.body_limit(reply_body_limit);
        lowest.expires_after(timeout);
        auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (read_ec) {
            reply.ec = read_ec;
            break;
        }
        reply.response = parser.release();
    }
    co_return replies;
}

} // namespace

std::string raw_request::wire() const {
    std::string out = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [name, value] : headers) {
        out += name + ": " + value + "\r\n";
    }
    if (!body.empty() || method == "POST") {
        out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    return out + "\r\n" + body;
}

raw_request& raw_request::set(const std::string& name, const std::string& value) {
    remove(name);
    headers.emplace_back(name, value);
    return *this;
}

raw_request& raw_request::remove(const std::string& name) {
    std::erase_if(headers, [&](const auto& h) { return h.first == name; });
    return *this;
}

net::awaitable<std::vector<client_reply>> exchange(client_target target,
                                                   std::vector<raw_request> requests) {
    beast::tcp_stream socket(co_await net::this_coro::executor);
    socket.expires_after(target.timeout);
    auto [connect_ec] = co_await socket.async_connect(
        tcp::endpoint{net::ip::address_v4::loopback(), target.port}, use_nothrow);
    if (connect_ec) {
        std::vector<client_reply> failed(1);
        failed.front().ec = connect_ec;
        co_return failed;
    }
    if (target.tls == nullptr) {
        co_return co_await talk(socket, socket, requests, target.timeout);
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *target.tls);
    SSL* ssl = stream.native_handle();
    if (is_ip_address(target.verify_host)) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), target.verify_host.c_str());
    } else {
        SSL_set_tlsext_host_name(ssl, target.verify_host.c_str());
        SSL_set1_host(ssl, target.verify_host.c_str());
    }
    beast::get_lowest_layer(stream).expires_after(target.timeout);
    auto [handshake_ec] =
        co_await stream.async_handshake(net::ssl::stream_base::client, use_nothrow);
    if (handshake_ec) {
        std::vector<client_reply> failed(1);
        failed.front().ec = handshake_ec;
        failed.front().verify_result = SSL_get_verify_result(ssl);
        co_return failed;
    }
    co_return co_await talk(stream, beast::get_lowest_layer(stream), requests, target.timeout);
}

net::awaitable<std::vector<client_reply>> exchange_unix(std::string socket_path,
                                                        std::vector<raw_request> requests,
                                                        std::chrono::milliseconds timeout) {
    using local = net::local::stream_protocol;
    beast::basic_stream<local> stream(co_await net::this_coro::executor);
    stream.expires_after(timeout);
    auto [connect_ec] = co_await stream.async_connect(local::endpoint{socket_path}, use_nothrow);
    if (connect_ec) {
        std::vector<client_reply> failed(1);
        failed.front().ec = connect_ec;
        co_return failed;
    }
    co_return co_await talk(stream, stream, requests, timeout);
}

raw_request token_request(std::string body, std::string region) {
    raw_request r;
    r.headers = {{"Content-Type", "application/x-www-form-urlencoded;charset=utf-8"},
                 {"TenantRegion", std::move(region)}};
    r.body = std::move(body);
    return r;
}

bool run_until(net::io_context& ioc, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            return false;
        }
        if (ioc.stopped()) {
            ioc.restart();
        }
        if (ioc.run_one_for(deadline - now) == 0 && ioc.stopped()) {
            return done(); // no work left: nothing will change
        }
    }
    return true;
}

} // namespace priava_tokend::testing
