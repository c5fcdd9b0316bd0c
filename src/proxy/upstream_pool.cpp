#include <priava_tokend/priava/https_connector.hpp>
#include <priava_tokend/proxy/upstream_pool.hpp>

#include <openssl/ssl.h>

#include <algorithm>

#include <sys/socket.h>

namespace priava_tokend {
namespace {

namespace beast = boost::beast;

/// How long a connection may have been idle and still be taken without a look: one used this
/// recently is almost never closed by the server, and a look costs a system call per request.
constexpr std::chrono::seconds unchecked_idle{2};

/// True when an idle connection is still usable: the server neither closed it nor reset it.
/// Bytes waiting on an idle TLS connection (a session ticket, a close_notify) are left for the
/// next request to find out about; a failure there sends it on a new connection.
bool still_open(upstream_connection& c) {
    char byte = 0;
    const ssize_t n =
        ::recv(c.stream().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

} // namespace

upstream_connection::~upstream_connection() {
    if (owner_ != nullptr) {
        owner_->unlend(this);
    }
}

upstream_pool::upstream_pool(net::any_io_executor ex, token_endpoint upstream,
                             std::shared_ptr<net::ssl::context> tls, std::size_t keep_idle)
    : ex_(std::move(ex))
    , upstream_(std::move(upstream))
    , tls_(std::move(tls))
    , keep_idle_(keep_idle)
    , sweep_timer_(ex_) {}

upstream_pool::~upstream_pool() {
    for (auto* c : lent_) {
        c->owner_ = nullptr;
    }
    if (session_ != nullptr) {
        SSL_SESSION_free(session_);
    }
}

std::unique_ptr<upstream_connection> upstream_pool::take_idle() {
    const auto now = clock::now();
    while (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        const auto idle = now - c->idle_since_;
        if (idle < idle_keep && (idle < unchecked_idle || still_open(*c))) {
            c->reused = true;
            ++stats_.reused;
            return lend(std::move(c));
        }
    }
    return nullptr;
}

net::awaitable<upstream_pool::taken> upstream_pool::open(clock::time_point until) {
    if (closed_) {
        co_return transient_failure{errc::connection_lost, "the daemon is shutting down", 0,
                                    std::nullopt, std::nullopt};
    }
    auto resolved = co_await https_connector::resolve(upstream_, until);
    if (auto* failed = std::get_if<transient_failure>(&resolved)) {
        co_return std::move(*failed);
    }
    beast::tcp_stream socket(ex_);
    auto refused = co_await https_connector::connect(
        socket, std::get<https_connector::tcp::resolver::results_type>(resolved), until,
        upstream_.host_header);
    if (refused) {
        co_return std::move(*refused);
    }
    if (closed_) { // shut down while this connected: close_all did not see it
        co_return transient_failure{errc::connection_lost, "the daemon is shutting down", 0,
                                    std::nullopt, std::nullopt};
    }
    socket.socket().set_option(net::ip::tcp::no_delay(true));
    auto c = std::make_unique<upstream_connection>();
    c->stream_.emplace(socket.release_socket(), tls_ != nullptr ? tls_->native_handle() : nullptr);
    c = lend(std::move(c)); // so that the sweep sees the handshake's deadline
    if (c->tls()) {
        if (auto untrusted = co_await secure(*c, until)) {
            co_return std::move(*untrusted);
        }
    }
    ++stats_.opened;
    if (closed_) {
        co_return transient_failure{errc::connection_lost, "the daemon is shutting down", 0,
                                    std::nullopt, std::nullopt};
    }
    co_return c;
}

net::awaitable<std::optional<transient_failure>> upstream_pool::secure(upstream_connection& c,
                                                                       clock::time_point until) {
    SSL* ssl = c.stream().native_handle();
    if (session_ != nullptr) {
        SSL_set_session(ssl, session_);
    }
    https_connector::expect_peer(ssl, upstream_.host);
    c.stream().expires_at(until);
    if (auto ec = co_await c.stream().handshake()) {
        co_return https_connector::handshake_failure(ssl, ec, until, upstream_.host_header);
    }
    if (SSL_session_reused(ssl) == 1) {
        ++stats_.tls_resumed;
    }
    co_return std::nullopt;
}

std::unique_ptr<upstream_connection> upstream_pool::lend(std::unique_ptr<upstream_connection> c) {
    c->owner_ = this;
    lent_.push_back(c.get());
    sweep_soon();
    return c;
}

void upstream_pool::unlend(upstream_connection* c) {
    const auto it = std::find(lent_.begin(), lent_.end(), c);
    if (it != lent_.end()) {
        *it = lent_.back();
        lent_.pop_back();
    }
}

void upstream_pool::sweep_soon() {
    if (sweeping_ || closed_) {
        return;
    }
    sweeping_ = true;
    sweep_timer_.expires_after(deadline_sweep);
    sweep_timer_.async_wait(
        [this, alive = std::weak_ptr<void>(alive_)](const boost::system::error_code& ec) {
            if (ec == net::error::operation_aborted || alive.expired()) {
                return; // closed, or the pool is gone: `this` must not be touched
            }
            sweeping_ = false;
            sweep();
        });
}

void upstream_pool::sweep() {
    const auto now = clock::now();
    for (auto* c : lent_) {
        if (c->stream().overdue(now)) {
            c->stream().time_out();
        }
    }
    if (!lent_.empty()) {
        sweep_soon();
    }
}

void upstream_pool::close_all() {
    closed_ = true;
    idle_.clear();
    sweep_timer_.cancel();
    for (auto* c : lent_) {
        c->stream().close(); // the call's pending operation ends with an error
    }
}

void upstream_pool::give_back(std::unique_ptr<upstream_connection> c) {
    unlend(c.get());
    c->owner_ = nullptr;
    if (c->tls() && !c->session_saved_) {
        // TLS 1.3 sends its session tickets after the handshake: by the end of a connection's
        // first response the client has them, and the next new connection can resume.
        c->session_saved_ = true;
        SSL_SESSION* s = SSL_get1_session(c->stream().native_handle());
        if (s != nullptr && SSL_SESSION_is_resumable(s) == 1) {
            if (session_ != nullptr) {
                SSL_SESSION_free(session_);
            }
            session_ = s;
        } else if (s != nullptr) {
            SSL_SESSION_free(s);
        }
    }
    if (closed_ || idle_.size() >= keep_idle_) {
        return;
    }
    c->idle_since_ = clock::now();
    c->buffer.clear();
    idle_.push_back(std::move(c));
}

} // namespace priava_tokend
