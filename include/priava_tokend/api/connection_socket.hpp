#pragma once

#include <priava_tokend/core/asio.hpp>

#include <boost/asio/local/stream_protocol.hpp>

namespace priava_tokend {

/// A client connection of the API socket: an Asio socket for a descriptor that `accept4` made
/// non-blocking and close-on-exec.
///
/// Asio treats an assigned descriptor as possibly shared: it sets O_NONBLOCK with an
/// `ioctl(FIONBIO)` before the first read, and removes the descriptor from epoll
/// (`EPOLL_CTL_DEL`) before closing it. Neither is needed for a descriptor that only this object
/// holds, and the two system calls were most of the daemon's extra cost per connection against
/// nginx (bench/run: 9.2 system calls per connection, nginx 7.1). `adopt` tells Asio what the
/// descriptor is, through the socket's implementation state; that state is Asio's detail, so
/// tests/unit/api/connection_socket_test.cpp checks the effect on every build.
///
/// The socket is also non-blocking for Asio's synchronous operations: `read_some` and
/// `write_some` answer `would_block` rather than wait, so the server can try them before it
/// suspends its coroutine on an asynchronous one.
class connection_socket : public net::local::stream_protocol::socket {
  public:
    using net::local::stream_protocol::socket::basic_stream_socket;

    /// Takes `fd`, a connected non-blocking Unix stream socket no other descriptor refers to.
    /// On failure the descriptor is closed and the error returned.
    boost::system::error_code adopt(int fd);
};

} // namespace priava_tokend
