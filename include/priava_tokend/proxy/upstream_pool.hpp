#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/priava/token_endpoint.hpp>
#include <priava_tokend/priava/token_response.hpp>
#include <priava_tokend/proxy/upstream_socket.hpp>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

typedef struct ssl_session_st SSL_SESSION;

namespace priava_tokend {

/// One connection to Priava's API host, TLS or (for a loopback test upstream) plain, with the
/// buffer its responses are read through.
class upstream_connection {
  public:
    upstream_connection() = default;
    ~upstream_connection();
    upstream_connection(const upstream_connection&) = delete;
    upstream_connection& operator=(const upstream_connection&) = delete;

    bool tls() const noexcept { return stream_->tls(); }
    upstream_socket& stream() noexcept { return *stream_; }

    boost::beast::flat_buffer buffer;
    std::string head;    ///< the request head being sent, kept for its capacity
    bool reused = false; ///< taken from the pool rather than opened for this request

  private:
    friend class upstream_pool;
    std::optional<upstream_socket> stream_;
    std::chrono::steady_clock::time_point idle_since_;
    bool session_saved_ = false; ///< its TLS session was offered to the pool for resumption
    class upstream_pool* owner_ = nullptr; ///< while lent out
};

/// Connections to Priava's API host, kept alive between requests: a request takes an idle one
/// or opens a new one, and gives it back when its response was read whole. New TLS connections
/// resume the session of an earlier one (no full handshake), and every certificate is checked
/// against the system store plus `ca_file` and the host name, as for token requests.
class upstream_pool {
  public:
    using clock = std::chrono::steady_clock;
    using taken = std::variant<std::unique_ptr<upstream_connection>, transient_failure>;

    /// `tls` is null for a plain-HTTP upstream; at most `keep_idle` connections wait idle.
    upstream_pool(net::any_io_executor ex, token_endpoint upstream,
                  std::shared_ptr<net::ssl::context> tls, std::size_t keep_idle);
    ~upstream_pool();
    upstream_pool(const upstream_pool&) = delete;
    upstream_pool& operator=(const upstream_pool&) = delete;

    /// An idle connection still open, or null; never waits. Else `open` makes one.
    std::unique_ptr<upstream_connection> take_idle();
    /// A new connection (resolve, connect, TLS) by `until`.
    net::awaitable<taken> open(clock::time_point until);
    /// A connection whose last response was read whole and may carry the next request.
    void give_back(std::unique_ptr<upstream_connection> c);

    /// Shutdown: closes every connection, idle or carrying a call (which then fails at once),
    /// and opens no more.
    void close_all();

    const token_endpoint& upstream() const noexcept { return upstream_; }
    std::size_t idle() const noexcept { return idle_.size(); }

    struct counters {
        std::uint64_t opened = 0;
        std::uint64_t reused = 0;
        std::uint64_t tls_resumed = 0; ///< new connections that resumed a TLS session
    };
    const counters& stats() const noexcept { return stats_; }

    /// How long an idle connection is kept: servers close theirs after a minute or so.
    static constexpr std::chrono::seconds idle_keep{30};
    /// How often the connections lent out are looked at for a deadline passed: the precision of
    /// `upstream_timeout`, at no cost per call.
    static constexpr std::chrono::milliseconds deadline_sweep{50};

  private:
    friend class upstream_connection;
    std::unique_ptr<upstream_connection> lend(std::unique_ptr<upstream_connection> c);
    void unlend(upstream_connection* c);
    net::awaitable<std::optional<transient_failure>> secure(upstream_connection& c,
                                                            clock::time_point until);
    /// Times out the lent connections past their deadline, again after `deadline_sweep` while
    /// any is lent.
    void sweep_soon();
    void sweep();

    net::any_io_executor ex_;
    token_endpoint upstream_;
    std::shared_ptr<net::ssl::context> tls_;
    std::size_t keep_idle_;
    std::vector<std::unique_ptr<upstream_connection>> idle_;
    std::vector<upstream_connection*> lent_; ///< at most `max_concurrent` and a few
    net::steady_timer sweep_timer_;
    /// Gone with the pool: a sweep already due when the pool is destroyed then does nothing.
    std::shared_ptr<char> alive_ = std::make_shared<char>();
    bool sweeping_ = false;
    bool closed_ = false;
    SSL_SESSION* session_ = nullptr; ///< the last resumable TLS session
    counters stats_;
};

} // namespace priava_tokend
