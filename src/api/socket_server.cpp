#include <priava_tokend/api/socket_server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <openssl/crypto.h>

#include <algorithm>

#include <malloc.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using clock = std::chrono::steady_clock;

constexpr std::size_t read_buffer_limit = 16 * 1024;
/// Connections whose reactor state is allocated at start (the default cap); more, on demand.
constexpr std::size_t reserved_connections = 1024;
/// After a burst of at least this many connections has ended, the heap is trimmed.
constexpr std::size_t trim_after_connections = 64;
constexpr std::size_t read_chunk = 4096;

response parse_error_response(const boost::system::error_code& ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        return error_response(431, "request_header_too_large", "request head larger than 8 KiB", {},
                              true);
    }
    if (ec == http::error::body_limit) {
        return error_response(413, "payload_too_large", "request body larger than 1 KiB", {}, true);
    }
    return error_response(400, "bad_request", "malformed HTTP request: " + ec.message(), {}, true);
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

net::awaitable<void> socket_server::run() {
    while (!stopping_) {
        auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
        if (ec) {
            if (stopping_ || ec == net::error::operation_aborted) {
                break;
            }
            // Out of descriptors or memory: back off rather than spin on the accept.
            log_.error("accept on the API socket failed: " + ec.message());
            net::steady_timer pause(ex_, std::chrono::milliseconds{100});
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        // At the cap, close the connection that has waited longest for a request to make room,
        // once it has waited eviction_grace; until then, or with every connection busy, the
        // newcomer waits (unserved) and the clients behind it wait in the listen backlog.
        while (connections_.size() >= limits_.max_connections && !stopping_) {
            co_await changes_.wait_until(evict_idlest(clock::now()));
        }
        if (stopping_) {
            break;
        }
        // Registered here, not when the session first runs, so a burst of accepts counts at once.
        const auto now = clock::now();
        const auto entry = connections_.insert(
            connections_.end(), connection{std::move(socket), now + limits_.head_timeout, now});
        peak_connections_ = std::max(peak_connections_, connections_.size());
        ++api_.connections().open;
        if (!sweeping_) {
            net::co_spawn(ex_, sweep(), net::detached);
        }
        net::co_spawn(ex_, session(entry), [this](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    log_.error(std::string("connection failed unexpectedly: ") + x.what());
                }
            }
        });
    }
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

net::awaitable<void> socket_server::session(std::list<connection>::iterator self) {
    struct registration {
        socket_server& server;
        std::list<connection>::iterator self;
        ~registration() {
            server.connections_.erase(self);
            --server.api_.connections().open;
            server.changes_.notify_all();
        }
    } reg{*this, self};
    connection& me = *self;
    socket_type& socket = me.socket;

    caller who{socket.native_handle(), std::nullopt};
    bool refused = false;
    if (!limits_.allow_uids.empty() || !limits_.allow_gids.empty()) {
        const peer_credentials* peer = who.credentials();
        refused = peer == nullptr ||
                  !peer_allowed(*peer, limits_.allow_uids, limits_.allow_gids, own_uid_);
    }

    boost::beast::flat_buffer buffer(read_buffer_limit);
    request_head head;
    bool first = true;
    while (!stopping_ || first) {
        boost::system::error_code ec;
        request_parser parser(head);
        parser.eager(true);
        bool started = buffer.size() > 0;
        me.busy = false;
        me.waiting_since = clock::now();
        me.deadline =
            me.waiting_since + (first || started ? limits_.head_timeout : limits_.idle_timeout);
        changes_.notify_all(); // an accept held at the cap may now evict this connection
        for (;;) {
            if (buffer.size() > 0) {
                if (!started) {
                    started = true;
                    me.deadline = clock::now() + limits_.head_timeout;
                }
                const std::size_t used = parser.put(buffer.data(), ec);
                buffer.consume(used);
                if (ec == http::error::need_more) {
                    ec = {};
                } else if (ec || parser.is_done()) {
                    break;
                }
                if (parser.is_done()) {
                    break;
                }
                if (used > 0 && buffer.size() > 0) {
                    continue;
                }
            }
            if (buffer.size() >= buffer.max_size()) {
                ec = http::error::header_limit;
                break;
            }
            const std::size_t room = std::min(read_chunk, buffer.max_size() - buffer.size());
            auto [read_ec, n] = co_await socket.async_read_some(buffer.prepare(room), use_nothrow);
            if (read_ec) {
                co_return; // peer gone, deadline passed, or shutting down
            }
            buffer.commit(n);
        }
        first = false;
        me.busy = true;

        response res;
        api_path path = api_path::other;
        if (ec) {
            res = parse_error_response(ec);
        } else {
            const route r = route_request(head.method, head.target);
            path = r.path;
            if (refused) {
                const peer_credentials* peer = who.credentials();
                log_.warning("refused " + std::string(to_string(path)) + " from " +
                             (peer ? peer->describe() : std::string("an unknown peer")) +
                             ": not in listen.allow_uids or listen.allow_gids");
                res = error_response(403, "forbidden", "this user may not use the token socket", {},
                                     true);
            } else if (r.outcome == route::verdict::not_found) {
                res = error_response(404, "not_found", "no such endpoint");
            } else if (r.outcome == route::verdict::method_not_allowed) {
                res = error_response(405, "method_not_allowed",
                                     "use " + std::string(r.allow) + " for this path",
                                     "Allow: " + std::string(r.allow) + "\r\n");
            } else if (r.outcome == route::verdict::bad_request) {
                res = error_response(400, "invalid_request", r.problem);
            } else if (auto now = api_.answer_now(r, head)) {
                res = std::move(*now);
            } else {
                me.deadline = clock::time_point::max(); // the keeper bounds every wait
                res = co_await api_.answer(r, head, who);
            }
            if (path == api_path::bootstrap) {
                OPENSSL_cleanse(head.body.data(), head.body.size());
            }
        }
        api_.counters().count(path, res.status);
        const bool keep_alive = !ec && parser.keep_alive() && !res.close && !stopping_;
        if (!keep_alive && !res.close) {
            res = closing(std::move(res));
        }
        me.deadline = clock::now() + limits_.write_timeout;
        auto [write_ec, written] =
            co_await net::async_write(socket, net::buffer(res.bytes()), use_nothrow);
        if (write_ec || !keep_alive) {
            break;
        }
    }
    boost::system::error_code ignored;
    socket.shutdown(socket_type::shutdown_send, ignored);
    socket.close(ignored);
}

} // namespace priava_tokend
