#include <priava_tokend/api/socket_server.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/unique_fd.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/write.hpp>
#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>

#include <malloc.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using clock = std::chrono::steady_clock;

/// Connections whose reactor state is allocated at start (the default cap); more, on demand.
constexpr std::size_t reserved_connections = 1024;
/// After a burst of at least this many connections has ended, the heap is trimmed.
constexpr std::size_t trim_after_connections = 64;
constexpr std::size_t read_chunk = 4096;
/// What is read and dropped of a body refused with 413, at most, before the connection closes.
constexpr std::size_t discard_limit = 64 * 1024 * 1024;
/// Connections accepted in a row, while more are waiting, before the accept loop lets the rest of
/// the event loop take a turn.
constexpr std::size_t accepts_between_turns = 16;
/// After running out of descriptors or memory, before accepting again.
constexpr std::chrono::milliseconds accept_pause{100};

response parse_error_response(const boost::system::error_code& ec, const request_head& head,
                              const proxy_endpoint* proxy) {
    response r;
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        r = error_response(431, "request_header_too_large", "request head larger than 8 KiB");
    } else if (ec == http::error::body_limit && head.proxied && proxy != nullptr) {
        r = error_response(413, "payload_too_large",
                           "request body larger than proxy.max_request_body (" +
                               std::to_string(proxy->settings().max_request_body) + " bytes)");
    } else if (ec == http::error::body_limit) {
        r = error_response(413, "payload_too_large", "request body larger than 1 KiB");
    } else if (head.unmet_expectation) {
        r = error_response(417, "expectation_failed", "only Expect: 100-continue is understood");
    } else if (ec == http::error::bad_transfer_encoding) {
        r = error_response(400, "bad_request",
                           "Transfer-Encoding other than chunked (RFC 9112 section 6.1)");
    } else {
        r = error_response(400, "bad_request", "malformed HTTP request: " + ec.message());
    }
    r.close = true;
    return r;
}

using io_result = socket_server::io_result;

/// A read that does not wait: `would_block` when nothing is there yet.
io_result read_now(connection_socket& socket, const net::mutable_buffer& into) {
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(into, ec);
    return {ec, n};
}

/// Writes what the socket takes now and removes it from `bytes`; an error only for a broken
/// connection.
io_result write_now(connection_socket& socket, std::string_view& bytes) {
    boost::system::error_code ec;
    const std::size_t n = socket.write_some(net::buffer(bytes), ec);
    if (ec == net::error::would_block) {
        return io_result{boost::system::error_code{}, 0};
    }
    bytes.remove_prefix(ec ? bytes.size() : n);
    return {ec, n};
}

} // namespace

socket_server::socket_server(net::any_io_executor ex, int listening_fd, socket_api& api,
                             const logger& log, server_limits limits)
    : ex_(ex)
    , acceptor_(ex)
    , api_(api)
    , log_(log)
    , limits_(std::move(limits))
    , own_uid_(::geteuid()) {
    acceptor_.assign(net::local::stream_protocol(), listening_fd);
    acceptor_.native_non_blocking(true); // an inherited socket may be blocking
    reserve_reactor_state(std::min<std::size_t>(limits_.max_connections, reserved_connections));
}

void socket_server::reserve_reactor_state(std::size_t sockets) {
    std::vector<net::posix::stream_descriptor> batch;
    batch.reserve(sockets);
    for (std::size_t i = 0; i < sockets; ++i) {
        const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) {
            break; // out of descriptors: the rest is allocated on demand
        }
        batch.emplace_back(ex_, fd);
    }
}

// --- accepting ---------------------------------------------------------------------------------

net::awaitable<void> socket_server::run() {
    // accept4 makes the connection non-blocking and close-on-exec in the one system call (see
    // connection_socket); Asio's own accept needs two more per connection.
    for (std::size_t in_a_row = 1; !stopping_; ++in_a_row) {
        if (in_a_row % accepts_between_turns == 0) {
            co_await net::post(ex_, net::use_awaitable); // let the accepted ones and timers run
        }
        unique_fd fd{
            ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)};
        if (!fd.valid()) {
            co_await after_accept_error(errno);
            continue;
        }
        if (fail_after_ && accepted_++ >= *fail_after_) {
            throw boost::system::system_error(EINVAL, boost::system::system_category(),
                                              "accept on the API socket (test hook)");
        }
        // At the cap the newcomer waits here (unserved) and the clients behind it in the listen
        // backlog, until an idle connection is evicted or one ends.
        co_await make_room();
        if (!stopping_) {
            admit(fd.release());
        }
    }
}

net::awaitable<void> socket_server::after_accept_error(int error) {
    switch (error) {
    case EAGAIN: {
        auto [ec] = co_await acceptor_.async_wait(net::socket_base::wait_read, use_nothrow);
        if (ec && !stopping_) {
            throw boost::system::system_error(ec, "waiting for clients on the API socket");
        }
        co_return;
    }
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
        co_return; // that client is gone; the next may be there
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: {
        log_.error("accept on the API socket failed: " + errno_text(error));
        net::steady_timer pause(ex_, accept_pause); // rather than spin on the accept
        co_await pause.async_wait(use_nothrow);
        co_return;
    }
    default:
        if (!stopping_) { // the socket itself is broken (EBADF, EINVAL after a shutdown, ...)
            throw boost::system::system_error(error, boost::system::system_category(),
                                              "accept on the API socket");
        }
    }
}

net::awaitable<void> socket_server::make_room() {
    while (connections_.size() >= limits_.max_connections && !stopping_) {
        co_await changes_.wait_until(evict_idlest(clock::now()));
    }
}

void socket_server::admit(int fd) {
    // Registered here, not when the session first runs, so a burst of accepts counts at once.
    const auto now = clock::now();
    const auto entry = connections_.emplace(connections_.end(), connection_socket(ex_),
                                            now + limits_.head_timeout, now);
    if (const auto ec = entry->socket.adopt(fd)) {
        connections_.erase(entry);
        log_.error("cannot take a connection of the API socket: " + ec.message());
        return;
    }
    peak_connections_ = std::max(peak_connections_, connections_.size());
    ++api_.connections().open;
    if (!sweeping_) {
        net::co_spawn(ex_, sweep(), net::detached);
    }
    net::co_spawn(ex_, session(entry), [this](const std::exception_ptr& e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                log_.error(std::string("connection failed unexpectedly: ") + x.what());
            }
        }
    });
}

void socket_server::close(connection& c) {
    boost::system::error_code ignored;
    c.closing = true;
    c.socket.close(ignored);
}

socket_server::connection* socket_server::idlest() {
    connection* found = nullptr;
    for (auto& c : connections_) {
        if (c.busy || c.closing || (found != nullptr && c.waiting_since >= found->waiting_since)) {
            continue;
        }
        // A request already in the socket buffer, not yet read, is not idleness.
        boost::system::error_code ec;
        if (c.socket.available(ec) == 0 && !ec) {
            found = &c;
        }
    }
    return found;
}

clock::time_point socket_server::evict_idlest(clock::time_point now) {
    // One at a time: a connection closed to make room is still ending, and its end is the signal.
    if (std::any_of(connections_.begin(), connections_.end(),
                    [](const connection& c) { return c.closing; })) {
        return clock::time_point::max();
    }
    connection* c = idlest();
    if (c == nullptr) {
        return clock::time_point::max();
    }
    if (const auto due = c->waiting_since + limits_.eviction_grace; due > now) {
        return due;
    }
    close(*c);
    ++api_.connections().evicted;
    return clock::time_point::max();
}

void socket_server::stop() {
    stopping_ = true;
    if (const std::size_t held_back = refusal_lines_.take_held_back(); held_back > 0) {
        log_.warning(std::to_string(held_back) +
                     " more connections refused (not in listen.allow_uids or listen.allow_gids) "
                     "since the last such line");
    }
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& c : connections_) {
        if (!c.busy) {
            close(c);
        }
    }
    changes_.notify_all();
}

net::awaitable<void> socket_server::drain(clock::time_point deadline) {
    while (!connections_.empty()) {
        const bool changed = co_await changes_.wait_until(deadline);
        if (!changed) {
            break;
        }
    }
    boost::system::error_code ignored;
    for (auto& c : connections_) {
        c.socket.close(ignored);
    }
}

net::awaitable<void> socket_server::sweep() {
    sweeping_ = true;
    net::steady_timer tick(ex_);
    while (!connections_.empty()) {
        tick.expires_after(std::chrono::seconds{1});
        co_await tick.async_wait(use_nothrow);
        const auto now = clock::now();
        for (auto& c : connections_) {
            if (c.deadline <= now && !c.closing) {
                close(c);
                ++api_.connections().timed_out;
            }
        }
    }
    // Every connection is gone. After a burst, hand the memory its sessions used back to the
    // system, or the resident set stays at the burst's peak: 12.9 MiB after two bursts of 4000
    // connections without this, 7.2 MiB with it (and reserve_reactor_state).
    if (peak_connections_ >= trim_after_connections) {
        ::malloc_trim(0);
    }
    peak_connections_ = 0;
    sweeping_ = false;
}

net::awaitable<void> socket_server::discard_body(connection& me) {
    boost::system::error_code ignored;
    me.socket.shutdown(net::socket_base::shutdown_send, ignored);
    me.deadline = clock::now() + limits_.head_timeout; // the sweep ends a client that keeps on
    std::size_t left = discard_limit;
    while (left > 0) {
        const auto room = me.buffer.prepare(std::min(read_chunk, me.buffer.max_size()));
        auto [read_ec, n] = co_await me.socket.async_read_some(room, use_nothrow);
        if (read_ec) {
            break;
        }
        left -= std::min(left, n);
    }
}

// --- a connection ------------------------------------------------------------------------------

std::string socket_server::client_name(caller& who) {
    const peer_credentials* peer = who.credentials();
    return peer != nullptr ? "uid " + std::to_string(peer->uid) : std::string("unknown");
}

socket_server::read_result socket_server::after_read(connection& me, const io_result& read,
                                                     boost::system::error_code& ec) {
    const auto [read_ec, n] = read;
    me.buffer.commit(read_ec ? 0 : n);
    const read_result got = read_ec == net::error::would_block ? read_result::need_more
                            : read_ec                          ? read_result::gone
                                                               : parse_buffered(me, ec);
    if (got == read_result::need_more) {
        continue_if_asked(me);
    }
    return got;
}

void socket_server::answered(connection& me) {
    if (me.request.path == api_path::bootstrap) {
        wipe(me.head.body); // it held a code, and so did the read buffer
        if (me.buffer.size() == 0) {
            me.buffer.clear();
            const auto all = me.buffer.prepare(me.buffer.capacity());
            OPENSSL_cleanse(all.data(), all.size());
        }
    }
    api_.counters().count(me.request.path, me.answer->status());
}

void socket_server::continue_if_asked(connection& me) {
    // A client that sent `Expect: 100-continue` waits (curl: a second) before its body.
    if (!me.head.expect_continue || !me.parser->is_header_done() || me.continue_sent) {
        return;
    }
    me.continue_sent = true;
    std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
    write_now(me.socket, interim); // fits an empty socket buffer
}

net::awaitable<bool> socket_server::serve_proxied(connection& me) {
    app_connection<connection_socket> app{me.socket, me.deadline, limits_.write_timeout,
                                          client_name(me.who),
                                          me.parser->keep_alive() && !stopping_};
    const auto done = co_await api_.proxy()->serve(app, me.head);
    co_return done.keep_open;
}

bool socket_server::allowed(caller& who) const {
    if (limits_.allow_uids.empty() && limits_.allow_gids.empty()) {
        return true;
    }
    const peer_credentials* peer = who.credentials();
    return peer != nullptr && peer_allowed(*peer, limits_.allow_uids, limits_.allow_gids, own_uid_);
}

void socket_server::await_request(connection& me, bool first, bool started) {
    const proxy_endpoint* proxy = api_.proxy();
    me.parser.emplace(me.head, proxy != nullptr ? proxy->settings().max_request_body : 0)
        .eager(true);
    me.continue_sent = false;
    me.busy = false;
    me.head_started = started;
    me.waiting_since = clock::now();
    me.deadline =
        me.waiting_since + (first || started ? limits_.head_timeout : limits_.idle_timeout);
    changes_.notify_all(); // an accept held at the cap may now evict this connection
}

socket_server::read_result socket_server::parse_buffered(connection& me,
                                                         boost::system::error_code& ec) {
    auto& buffer = me.buffer;
    while (buffer.size() > 0) {
        if (!me.head_started) {
            me.head_started = true;
            me.deadline = clock::now() + limits_.head_timeout;
        }
        const std::size_t used = me.parser->put(buffer.data(), ec);
        buffer.consume(used);
        if (ec == http::error::need_more) {
            ec = {};
        } else if (ec) {
            return read_result::malformed;
        }
        if (me.parser->is_done()) {
            return read_result::request;
        }
        if (used == 0) {
            break;
        }
    }
    if (buffer.size() >= buffer.max_size()) {
        ec = http::error::header_limit;
        return read_result::malformed;
    }
    return read_result::need_more;
}

std::optional<response> socket_server::answer_now(connection& me, bool refused,
                                                  const boost::system::error_code& ec) {
    if (!ec && !refused) {
        return api_.answer_now(me.request, me.head);
    }
    response r = ec ? parse_error_response(ec, me.head, api_.proxy()) : refusal(me);
    if (me.head.proxied) {
        r.message().set(queue_ms_header, "0"); // every answer to a proxied call carries it
    }
    return r;
}

response socket_server::refusal(connection& me) {
    const peer_credentials* peer = me.who.credentials();
    std::size_t held_back = 0;
    if (refusal_lines_.admit(clock::now(), held_back)) {
        log_.warning("refused " + std::string(to_string(me.request.path)) + " from " +
                     (peer ? peer->describe() : std::string("an unknown peer")) +
                     ": not in listen.allow_uids or listen.allow_gids" +
                     (held_back > 0 ? " (and " + std::to_string(held_back) +
                                          " more refused since the last such line)"
                                    : std::string{}));
    }
    response res = error_response(403, "forbidden", "this user may not use the token socket");
    res.close = true;
    return res;
}

/// Keeps the connection list and the counters true whichever way a session ends.
struct socket_server::registration {
    socket_server& server;
    connection_list::iterator self;
    ~registration() {
        server.connections_.erase(self);
        --server.api_.connections().open;
        server.changes_.notify_all();
    }
};

net::awaitable<void> socket_server::session(connection_list::iterator self) {
    const registration reg{*this, self};
    connection& me = *self;
    me.who = caller{me.socket.native_handle(), std::nullopt};
    for (bool first = true; !stopping_ || first; first = false) {
        await_request(me, first, me.buffer.size() > 0);
        boost::system::error_code ec;
        auto got = parse_buffered(me, ec);
        // A new client's request is usually there when it is accepted: read it without
        // suspending, and wait only when it is not.
        for (bool at_once = first; got == read_result::need_more; at_once = false) {
            const auto room =
                me.buffer.prepare(std::min(read_chunk, me.buffer.max_size() - me.buffer.size()));
            io_result read;
            if (at_once) {
                read = read_now(me.socket, room);
            } else {
                read = co_await me.socket.async_read_some(room, use_nothrow);
            }
            got = after_read(me, read, ec);
        }
        if (got == read_result::gone) {
            break; // peer gone, deadline passed, or shutting down
        }
        me.busy = true;
        // Asked at every request, not once per connection: a SIGHUP that narrows the allow-list
        // reaches the open keep-alive connections too.
        const bool refused = !allowed(me.who);
        me.request = ec ? route{} : route_request(me.head.method, me.head.target);
        if (!ec && !refused && me.request.path == api_path::proxy && api_.proxy() != nullptr) {
            if (co_await serve_proxied(me)) {
                continue;
            }
            break;
        }
        me.answer = answer_now(me, refused, ec);
        if (!me.answer) {
            me.deadline = clock::time_point::max(); // the keeper bounds every wait
            me.answer = co_await api_.answer(me.request, me.head, me.who);
        }
        answered(me);
        const bool keep_alive = !ec && me.parser->keep_alive() && !me.answer->close && !stopping_;
        me.deadline = clock::now() + limits_.write_timeout;
        auto bytes = me.answer->wire(keep_alive);
        io_result written = write_now(me.socket, bytes); // a response fits the socket buffer
        if (!std::get<0>(written) && !bytes.empty()) {
            written = co_await net::async_write(me.socket, net::buffer(bytes), use_nothrow);
        }
        if (!std::get<0>(written) && ec == http::error::body_limit) {
            co_await discard_body(me); // so the client, still sending, can read the 413
        }
        if (std::get<0>(written) || !keep_alive) {
            break;
        }
    }
    // close(2) alone: the peer reads the end of the stream after the last response.
    boost::system::error_code ignored;
    me.socket.close(ignored);
}

} // namespace priava_tokend
