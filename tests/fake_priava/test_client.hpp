#pragma once

#include <priava_tokend/core/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace priava_tokend::testing {

/// A request as the test wants it on the wire, byte for byte: the header lines are sent as
/// written (duplicates and odd spellings included). `wire()` adds `Host` and `Content-Length`.
struct raw_request {
    std::string method = "POST";
    std::string target = "/api/rest/oauth/token";
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    std::string wire() const;
    /// Replaces every header called `name` (exact spelling) by one with `value`.
    raw_request& set(const std::string& name, const std::string& value);
    raw_request& remove(const std::string& name);
};

/// What came back for one request; `ec` set when no complete reply arrived.
struct client_reply {
    boost::system::error_code ec;
    long verify_result = 0; ///< OpenSSL's verdict on the server certificate (X509_V_OK = 0)
    boost::beast::http::response<boost::beast::http::string_body> response;

    unsigned status() const { return response.result_int(); }
    const std::string& body() const { return response.body(); }
};

/// Where and how the test client connects.
struct client_target {
    std::uint16_t port = 0;
    boost::asio::ssl::context* tls = nullptr; ///< null: plain HTTP
    std::string verify_host = "127.0.0.1";    ///< IP address or DNS name the certificate must name
    std::chrono::milliseconds timeout{5000};  ///< for each step; the client closes when it passes
};

/// Connects to 127.0.0.1, sends the requests one after another on the same connection and reads
/// a reply to each; stops at the first failure, whose reply carries the error.
net::awaitable<std::vector<client_reply>> exchange(client_target target,
                                                   std::vector<raw_request> requests);

/// The same over a Unix socket (the fake's control API).
net::awaitable<std::vector<client_reply>>
exchange_unix(std::string socket_path, std::vector<raw_request> requests,
              std::chrono::milliseconds timeout = std::chrono::seconds{5});

/// A token request as Priava documents it: `Content-Type` byte-exact and `TenantRegion`.
raw_request token_request(std::string body, std::string region = "APAC");

/// Runs `ioc` until `done()` holds or `limit` passes; returns `done()`.
bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done,
               std::chrono::steady_clock::duration limit);

/// Runs `ioc` until `task` finishes (its result) or `limit` passes (nothing). The task's
/// exceptions come out of here.
template <class T>
std::optional<T> run_task(boost::asio::io_context& ioc, net::awaitable<T> task,
                          std::chrono::steady_clock::duration limit = std::chrono::seconds{20}) {
    auto result = std::make_shared<std::optional<T>>();
    auto error = std::make_shared<std::exception_ptr>();
    net::co_spawn(ioc, std::move(task), [result, error](std::exception_ptr e, T value) {
        *error = e;
        if (!e) {
            *result = std::move(value);
        }
    });
    run_until(
        ioc, [&] { return result->has_value() || *error; }, limit);
    if (*error) {
        std::rethrow_exception(*error);
    }
    return std::move(*result);
}

} // namespace priava_tokend::testing
