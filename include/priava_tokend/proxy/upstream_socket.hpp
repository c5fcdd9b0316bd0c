#pragma once

#include <priava_tokend/core/asio.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <span>
#include <string>
#include <utility>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace priava_tokend {

/// A connection to Priava's API host that speaks TLS on its own descriptor, as nginx does: the
/// TLS library reads and writes the socket itself, and the event loop only waits until it can.
/// Asio's `ssl::stream` copies every byte through a memory BIO pair and its composed operations;
/// for the proxy, which makes a round trip per call, those layers were most of the daemon's own
/// CPU time. A null context makes a plain-TCP connection (a loopback test upstream).
///
/// Every operation ends by the deadline: `upstream_pool` looks at its lent connections a few
/// times a second and calls `time_out` on those past it, which ends the pending operation with
/// `boost::beast::error::timeout`. No timer is set per operation.
class upstream_socket {
  public:
    using clock = std::chrono::steady_clock;
    using io_result = std::pair<boost::system::error_code, std::size_t>;

    /// Takes a connected socket; TLS (when `tls` is not null) starts with `handshake`.
    upstream_socket(net::ip::tcp::socket socket, SSL_CTX* tls);
    ~upstream_socket();
    upstream_socket(const upstream_socket&) = delete;
    upstream_socket& operator=(const upstream_socket&) = delete;

    bool tls() const noexcept { return ssl_ != nullptr; }
    /// The TLS connection, for the session, SNI and the name to verify; null for plain TCP.
    SSL* native_handle() const noexcept { return ssl_; }
    net::ip::tcp::socket& socket() noexcept { return socket_; }

    void expires_at(clock::time_point t) noexcept { deadline_ = t; }
    void expires_after(clock::duration d) noexcept { deadline_ = clock::now() + d; }
    bool overdue(clock::time_point now) const noexcept { return now >= deadline_; }
    /// Ends the pending operation, if any, with a timeout.
    void time_out();
    /// Ends the connection: the pending operation, if any, and every later one fail with
    /// `bad_descriptor`. The descriptor itself is released only by the destructor, after the TLS
    /// state that holds its number: never may OpenSSL read a number reused by another file.
    void close();

    net::awaitable<boost::system::error_code> handshake();
    /// Some bytes into `into`; `net::error::eof` when the peer ended the stream cleanly.
    net::awaitable<io_result> read_some(net::mutable_buffer into);
    /// All of `pieces`, small ones gathered into one TLS record.
    net::awaitable<boost::system::error_code> write(std::span<const net::const_buffer> pieces);
    /// Right after a request is written: waits until the answer has begun to arrive, without the
    /// read that would only find nothing yet (as nginx does). Nothing is missed: what OpenSSL
    /// holds already is looked at first, and Asio arms the descriptor anew for the wait
    /// (`EPOLL_CTL_MOD`), which reports bytes that came before it.
    net::awaitable<boost::system::error_code> await_answer();

  private:
    enum class step { done, want_read, want_write };
    step handshake_step(boost::system::error_code& ec);
    step read_step(net::mutable_buffer into, std::size_t& got, boost::system::error_code& ec);
    step write_step(net::const_buffer from, std::size_t& sent, boost::system::error_code& ec);
    step ssl_failure(int result, boost::system::error_code& ec);
    /// One OpenSSL call (1: done), refused at once after `close`.
    template <class Call>
    step tls_step(Call call, boost::system::error_code& ec);
    /// Waits until the socket is ready for `s`; the error of a timeout or a close.
    net::awaitable<boost::system::error_code> wait(step s);
    net::awaitable<boost::system::error_code> write_one(net::const_buffer from);
    net::awaitable<boost::system::error_code>
    write_pieces(std::span<const net::const_buffer> pieces);
    static net::awaitable<boost::system::error_code> ready();

    net::ip::tcp::socket socket_;
    SSL* ssl_ = nullptr;
    clock::time_point deadline_ = clock::time_point::max();
    bool timed_out_ = false;
    bool closed_ = false;
    std::string gathered_; ///< small pieces copied together for one record
};

} // namespace priava_tokend
