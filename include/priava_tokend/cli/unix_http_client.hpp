#pragma once

#include <priava_tokend/core/error.hpp>

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace priava_tokend {

/// A reply from the daemon's socket.
struct http_reply {
    unsigned status = 0;
    std::string body;
};

/// One HTTP/1.1 request over a Unix socket, for the client commands. Fails with
/// `daemon_unreachable` (naming the socket and the likely cause) when no daemon answers, and
/// with `request_timeout` when it does not answer within `timeout`.
outcome<http_reply> unix_http_request(const std::string& socket_path,
                                      boost::beast::http::verb method, std::string_view target,
                                      std::string_view body, std::chrono::milliseconds timeout);

} // namespace priava_tokend
