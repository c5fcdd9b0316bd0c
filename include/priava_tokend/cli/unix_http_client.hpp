#pragma once

#include <priava_tokend/core/error.hpp>

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <iosfwd>
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
/// with `request_timeout` when it does not answer within `timeout`. A `body` is sent as
/// `content_type`; with a `body_sink` the body of a 2xx reply is written there as it arrives (any
/// size) instead of into `http_reply::body` (at most 1 MiB, as every other reply's).
outcome<http_reply>
unix_http_request(const std::string& socket_path, boost::beast::http::verb method,
                  std::string_view target, std::string_view body, std::chrono::milliseconds timeout,
                  std::string_view content_type = "application/x-www-form-urlencoded",
                  std::ostream* body_sink = nullptr);

} // namespace priava_tokend
