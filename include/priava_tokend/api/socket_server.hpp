#pragma once

#include <priava_tokend/api/connection_socket.hpp>
#include <priava_tokend/api/socket_api.hpp>
#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/log_rate_limit.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/core/notifier.hpp>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <list>
#include <optional>
#include <tuple>
#include <vector>

namespace priava_tokend {

/// Connection limits of docs/socket-api.md, each a named duration with its default.
struct server_limits {
    std::size_t max_connections = 1024;
    std::chrono::seconds head_timeout{10};  ///< to finish a request head once it began
    std::chrono::seconds idle_timeout{60};  ///< keep-alive connection without a request
    std::chrono::seconds write_timeout{10}; ///< for a client to take its response
    /// How long a connection must have waited for a request before the cap may close it: a burst
    /// of new clients, each about to send its request, is queued rather than cut off.
    std::chrono::milliseconds eviction_grace{250};
    std::vector<uid_t> allow_uids;
    std::vector<gid_t> allow_gids;
};

/// HTTP/1.1 on the Unix socket: one coroutine per connection, keep-alive and pipelining, a cap
/// on connections, and deadlines enforced by one sweep a second rather than a timer per request.
/// At the cap the connection that has waited longest for a request is closed to admit the new
/// client (as nginx does), once it has waited `eviction_grace`, so idle or slow clients cannot
/// lock others out; until then, or when every connection is busy, further clients wait in the
/// listen backlog rather than being refused.
class socket_server {
  public:
    /// What a socket read or write came to: its error and the bytes moved.
    using io_result = std::tuple<boost::system::error_code, std::size_t>;

    socket_server(net::any_io_executor ex, int listening_fd, socket_api& api, const logger& log,
                  server_limits limits);

    /// Accepts until `stop()`. Ends with an exception when the listening socket fails for good
    /// (anything but a transient shortage or an aborted connection).
    net::awaitable<void> run();

    /// Stops accepting and closes idle connections; busy ones close after their response.
    void stop();

    /// Waits until every connection is gone, closing the rest at `deadline`.
    net::awaitable<void> drain(std::chrono::steady_clock::time_point deadline);

    void set_limits(server_limits limits) { limits_ = std::move(limits); }

    /// Test builds only (PRIAVA_TOKEND_TEST_HOOKS): after `accepted` connections, the accept loop
    /// fails as it would on a broken listening socket.
    void fail_after_accepting(std::size_t accepted) { fail_after_ = accepted; }
    std::size_t connections() const noexcept { return connections_.size(); }

  private:
    /// The largest request a connection buffers (head, body and what is pipelined behind them).
    static constexpr std::size_t read_buffer_limit = 16 * 1024;

    struct connection {
        connection(connection_socket s, std::chrono::steady_clock::time_point head_deadline,
                   std::chrono::steady_clock::time_point now)
            : socket(std::move(s))
            , deadline(head_deadline)
            , waiting_since(now) {}

        connection_socket socket;
        std::chrono::steady_clock::time_point deadline;
        std::chrono::steady_clock::time_point waiting_since; ///< for a request (head) to come
        bool busy = false;
        bool closing = false;
        bool head_started = false;  ///< bytes of the next request arrived
        bool continue_sent = false; ///< `100 Continue` written for this request
        // What a request needs, kept here rather than in the session's coroutine frame: Asio
        // recycles frames only up to 1 KiB; a larger one would cost an allocation per connection.
        caller who;
        boost::beast::flat_buffer buffer{read_buffer_limit};
        request_head head;
        std::optional<request_parser> parser;
        route request;
        std::optional<response> answer;
    };
    using connection_list = std::list<connection>;
    struct registration;
    enum class read_result { request, malformed, need_more, gone };

    /// Asio keeps the reactor state of every socket it has registered in a pool, for reuse, and
    /// never frees it. Made one at a time during a burst of connections, those small objects
    /// land between the sessions' buffers and keep their pages resident after the burst (11.1
    /// instead of 7.2 MiB after bench/run's bursts). Registering and closing `sockets` event
    /// descriptors at start (about 6 ms for 1024) fills the pool with entries that sit together.
    void reserve_reactor_state(std::size_t sockets);
    /// What to do after accept4 failed with `error`: wait for a client, pause, or give up.
    net::awaitable<void> after_accept_error(int error);
    /// At the cap, closes an idle connection or waits for one to end.
    net::awaitable<void> make_room();
    void admit(int fd);
    /// One coroutine per connection. The steps that need no waiting are plain functions: a
    /// coroutine frame per step would cost an allocation per request.
    net::awaitable<void> session(connection_list::iterator self);
    /// Readies `me` for its next request: a new parser, and the head or idle deadline.
    void await_request(connection& me, bool first, bool started);
    /// Feeds what the connection's buffer holds to its parser: a whole request, a malformed one,
    /// or more to read.
    read_result parse_buffered(connection& me, boost::system::error_code& ec);
    /// The answer unless it must wait for the keeper: parse errors, refusals, and what
    /// `socket_api::answer_now` can tell.
    std::optional<response> answer_now(connection& me, bool refused,
                                       const boost::system::error_code& ec);
    bool allowed(caller& who) const;
    /// The 403 for a peer outside `listen.allow_uids`/`allow_gids`, logged.
    response refusal(connection& me);
    /// The proxy's name for the client in its round-robin: the peer's uid.
    static std::string client_name(caller& who);
    /// Takes what a read brought (or its error) and parses it; asks for the body with
    /// `100 Continue` when the client waits for that.
    read_result after_read(connection& me, const io_result& read, boost::system::error_code& ec);
    /// Counts the answer; wipes a bootstrap request's body, which held a code.
    void answered(connection& me);
    /// Writes `100 Continue` once, when the request head asked for it and its body is to come.
    static void continue_if_asked(connection& me);
    /// Hands a `/v1/proxy/` request to the proxy; false when the connection is to close.
    net::awaitable<bool> serve_proxied(connection& me);
    net::awaitable<void> sweep();
    /// After a 413: reads and drops what the client still sends (within `head_timeout`), since
    /// a client that writes its whole body before reading would otherwise never see the answer.
    net::awaitable<void> discard_body(connection& me);
    /// The connection that has waited longest for a request, if any is not busy.
    connection* idlest();
    /// Closes `idlest()` if it has waited `eviction_grace` by `now`. Returns when to try again:
    /// the moment it will have, or never (after closing one, or if every connection is busy:
    /// then a connection's end is the signal).
    std::chrono::steady_clock::time_point evict_idlest(std::chrono::steady_clock::time_point now);
    void close(connection& c);

    net::any_io_executor ex_;
    net::local::stream_protocol::acceptor acceptor_;
    socket_api& api_;
    const logger& log_;
    server_limits limits_;
    connection_list connections_;
    notifier changes_;                 ///< a connection ended
    std::size_t peak_connections_ = 0; ///< since the last time there were none
    bool sweeping_ = false;
    bool stopping_ = false;
    std::optional<std::size_t> fail_after_;
    std::size_t accepted_ = 0;
    uid_t own_uid_;
    /// Refused peers are logged 5 a minute at most, the rest counted (a flood of refused
    /// connections must not push real errors out of the journal).
    log_rate_limit refusal_lines_{5, std::chrono::minutes{1}};
};

} // namespace priava_tokend
