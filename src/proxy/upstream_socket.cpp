#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/proxy/upstream_socket.hpp>

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>

#include <sys/socket.h>

namespace priava_tokend {
namespace {

/// Pieces up to this size together are copied into one write: one TLS record, one system call.
constexpr std::size_t largest_gathered = 16 * 1024;

boost::system::error_code system_error(int error) {
    return {error, boost::system::system_category()};
}

} // namespace

upstream_socket::upstream_socket(net::ip::tcp::socket socket, SSL_CTX* tls)
    : socket_(std::move(socket)) {
    socket_.native_non_blocking(true);
    if (tls == nullptr) {
        return;
    }
    ssl_ = SSL_new(tls);
    if (ssl_ == nullptr) {
        throw std::bad_alloc();
    }
    SSL_set_fd(ssl_, socket_.native_handle()); // a socket BIO that does not close the descriptor
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_set_read_ahead(ssl_, 1); // a record's header and body in one read(2)
    SSL_set_connect_state(ssl_);
}

upstream_socket::~upstream_socket() {
    wipe(gathered_);
    if (ssl_ != nullptr) {
        SSL_free(ssl_); // before the socket's destructor releases the descriptor
    }
}

void upstream_socket::time_out() {
    timed_out_ = true;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
}

void upstream_socket::close() {
    closed_ = true;
    ::shutdown(socket_.native_handle(), SHUT_RDWR);
    boost::system::error_code ignored;
    socket_.cancel(ignored);
}

upstream_socket::step upstream_socket::ssl_failure(int result, boost::system::error_code& ec) {
    const int saved_errno = errno;
    switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ:
        return step::want_read;
    case SSL_ERROR_WANT_WRITE:
        return step::want_write;
    case SSL_ERROR_ZERO_RETURN: // close_notify
        ec = net::error::eof;
        return step::done;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            ec = saved_errno != 0 ? system_error(saved_errno)
                                  : boost::system::error_code(net::ssl::error::stream_truncated);
            return step::done;
        }
        break;
    default:
        break;
    }
    const unsigned long error = ERR_get_error();
    ERR_clear_error();
    if (error == 0) {
        ec = net::ssl::error::unexpected_result; // a failure OpenSSL gave no reason for
    } else if (ERR_GET_REASON(error) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = net::ssl::error::stream_truncated; // closed without close_notify
    } else {
        ec = boost::system::error_code(static_cast<int>(error), net::error::get_ssl_category());
    }
    return step::done;
}

template <class Call>
upstream_socket::step upstream_socket::tls_step(Call call, boost::system::error_code& ec) {
    if (closed_) {
        ec = net::error::bad_descriptor;
        return step::done;
    }
    // SSL_get_error reads the queue and errno as this call left them. The queue is empty but
    // after a failure: looking costs less than clearing its sixteen slots every time.
    if (ERR_peek_error() != 0) {
        ERR_clear_error();
    }
    errno = 0;
    const int r = call();
    return r == 1 ? step::done : ssl_failure(r, ec);
}

upstream_socket::step upstream_socket::handshake_step(boost::system::error_code& ec) {
    return tls_step([this] { return SSL_connect(ssl_); }, ec);
}

upstream_socket::step upstream_socket::read_step(net::mutable_buffer into, std::size_t& got,
                                                 boost::system::error_code& ec) {
    if (ssl_ != nullptr) {
        return tls_step([&] { return SSL_read_ex(ssl_, into.data(), into.size(), &got); }, ec);
    }
    if (closed_) {
        ec = net::error::bad_descriptor;
        return step::done;
    }
    for (;;) {
        const ssize_t n = ::recv(socket_.native_handle(), into.data(), into.size(), 0);
        if (n > 0) {
            got = static_cast<std::size_t>(n);
        } else if (n == 0) {
            ec = net::error::eof;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return step::want_read;
        } else if (errno == EINTR) {
            continue;
        } else {
            ec = system_error(errno);
        }
        return step::done;
    }
}

upstream_socket::step upstream_socket::write_step(net::const_buffer from, std::size_t& sent,
                                                  boost::system::error_code& ec) {
    if (ssl_ != nullptr) {
        return tls_step([&] { return SSL_write_ex(ssl_, from.data(), from.size(), &sent); }, ec);
    }
    if (closed_) {
        ec = net::error::bad_descriptor;
        return step::done;
    }
    for (;;) {
        const ssize_t n = ::send(socket_.native_handle(), from.data(), from.size(), MSG_NOSIGNAL);
        if (n >= 0) {
            sent = static_cast<std::size_t>(n);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return step::want_write;
        } else if (errno == EINTR) {
            continue;
        } else {
            ec = system_error(errno);
        }
        return step::done;
    }
}

net::awaitable<boost::system::error_code> upstream_socket::wait(step s) {
    if (!timed_out_) {
        auto [ec] =
            co_await socket_.async_wait(s == step::want_read ? net::ip::tcp::socket::wait_read
                                                             : net::ip::tcp::socket::wait_write,
                                        use_nothrow);
        if (closed_) {
            co_return net::error::bad_descriptor;
        }
        if (!timed_out_) {
            co_return ec;
        }
    }
    co_return boost::beast::error::timeout;
}

net::awaitable<boost::system::error_code> upstream_socket::handshake() {
    timed_out_ = false;
    for (;;) {
        boost::system::error_code ec;
        const step s = handshake_step(ec);
        if (s == step::done) {
            co_return ec;
        }
        if (auto waited = co_await wait(s)) {
            co_return waited;
        }
    }
}

// Not coroutines themselves: each hands over the one coroutine that does the work, a frame less
// per call.
net::awaitable<boost::system::error_code> upstream_socket::await_answer() {
    if (ssl_ != nullptr && SSL_has_pending(ssl_) == 1) {
        return ready();
    }
    return wait(step::want_read);
}

net::awaitable<boost::system::error_code> upstream_socket::ready() {
    co_return boost::system::error_code{};
}

net::awaitable<upstream_socket::io_result> upstream_socket::read_some(net::mutable_buffer into) {
    timed_out_ = false;
    for (;;) {
        boost::system::error_code ec;
        std::size_t got = 0;
        const step s = read_step(into, got, ec);
        if (s == step::done) {
            co_return io_result{ec, got};
        }
        if (auto waited = co_await wait(s)) {
            co_return io_result{waited, 0};
        }
    }
}

net::awaitable<boost::system::error_code> upstream_socket::write_one(net::const_buffer from) {
    while (from.size() > 0) {
        boost::system::error_code ec;
        std::size_t sent = 0;
        const step s = write_step(from, sent, ec);
        if (s == step::done) {
            if (ec) {
                co_return ec;
            }
            from += sent;
        } else if (auto waited = co_await wait(s)) {
            co_return waited;
        }
    }
    co_return boost::system::error_code{};
}

net::awaitable<boost::system::error_code>
upstream_socket::write(std::span<const net::const_buffer> pieces) {
    timed_out_ = false;
    if (pieces.size() == 1) {
        return write_one(pieces.front());
    }
    return write_pieces(pieces);
}

net::awaitable<boost::system::error_code>
upstream_socket::write_pieces(std::span<const net::const_buffer> pieces) {
    if (const auto size = net::buffer_size(pieces); size <= largest_gathered) {
        gathered_.clear();
        gathered_.reserve(size); // a head holds a bearer token: no copy left behind unwiped
        for (const auto& p : pieces) {
            gathered_.append(static_cast<const char*>(p.data()), p.size());
        }
        auto ec = co_await write_one(net::buffer(gathered_));
        wipe(gathered_);
        co_return ec;
    }
    for (const auto& p : pieces) {
        if (auto ec = co_await write_one(p)) {
            co_return ec;
        }
    }
    co_return boost::system::error_code{};
}

} // namespace priava_tokend
