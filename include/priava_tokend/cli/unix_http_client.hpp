#pragma once

#include <priava_tokend/core/error.hpp>

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <iosfwd>
#include <string>
#include <string_view>

#include <sys/types.h>

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

/// As above, for a body that must reach only the daemon (an authorization code): before
/// anything is sent, the listener's `SO_PEERCRED` must name the process `holder` (the one that
/// holds the state lock), root (a socket unit's listener), or this process's own user. Anyone
/// else who made the socket, squatting its path in a shared directory, gets nothing:
/// `daemon_unreachable`, naming who listens.
outcome<http_reply> unix_http_request_to_daemon(const std::string& socket_path, pid_t holder,
                                                std::string_view target, std::string_view body,
                                                std::chrono::milliseconds timeout);

} // namespace priava_tokend
