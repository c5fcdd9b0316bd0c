#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/core/version.hpp>
#include <priava_tokend/priava/https_connector.hpp>
#include <priava_tokend/proxy/forwarded_headers.hpp>
#include <priava_tokend/proxy/upstream_exchange.hpp>

#include <boost/asio/ssl/error.hpp>

#include <algorithm>
#include <array>

namespace priava_tokend {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using clock = std::chrono::steady_clock;

/// Priava's response heads are small; this bounds a broken or hostile one.
constexpr std::uint32_t largest_reply_head = 64 * 1024;
/// What one read asks of the connection.
constexpr std::size_t read_chunk = 64 * 1024;

/// A request with a body, or of a method that has one (RFC 9110 §8.6: a user agent sends
/// `Content-Length: 0` for an empty POST or PUT; PATCH alike).
bool has_body_framing(http::verb method, std::size_t size) {
    return size > 0 || method == http::verb::post || method == http::verb::put ||
           method == http::verb::patch;
}

/// The request head as text: what Beast's serializer would write, without building `fields`.
void write_request_head(const upstream_call& call, const token_endpoint& upstream,
                        std::string_view authorization, region tenant, std::string& out) {
    out.clear();
    out.append(http::to_string(call.method));
    out.append(" ");
    out.append(call.target);
    out.append(" HTTP/1.1\r\nHost: ");
    out.append(upstream.host_header);
    out.append("\r\n");
    if (call.app_headers != nullptr) {
        append_request_headers(*call.app_headers, out);
    }
    if (call.app_headers == nullptr ||
        call.app_headers->find(http::field::user_agent) == call.app_headers->end()) {
        out.append("User-Agent: priava-tokend/");
        out.append(version());
        out.append("\r\n");
    }
    // Room for the rest first: growing the string after the token is in would free a copy of
    // it unwiped.
    out.reserve(out.size() + authorization.size() + 128);
    out.append("Authorization: ");
    out.append(authorization);
    out.append("\r\nTenantRegion: ");
    out.append(to_string(tenant));
    out.append("\r\n");
    if (has_body_framing(call.method, call.body.size())) {
        out.append("Content-Length: ");
        out.append(std::to_string(call.body.size()));
        out.append("\r\n");
    }
    out.append("\r\n");
}

/// Feeds the parser what the connection's buffer holds, reading more as needed, until the head
/// is done (`head_only`); else until the body buffer holds what has come so far, is full
/// (`http::error::need_buffer`), or the message ends.
net::awaitable<boost::system::error_code> feed(upstream_connection& c,
                                               upstream_reply::parser_type& p, bool head_only) {
    const auto& body = p.get().body();
    const std::size_t room = body.size;
    for (;;) {
        if (c.buffer.size() > 0) {
            boost::system::error_code ec;
            c.buffer.consume(p.put(c.buffer.data(), ec));
            if (ec && ec != http::error::need_more) {
                co_return ec;
            }
            if (head_only ? p.is_header_done() : p.is_done()) {
                co_return boost::system::error_code{};
            }
            if (!head_only && body.size < room && c.buffer.size() == 0) {
                co_return boost::system::error_code{}; // a piece to pass on while more comes
            }
            if (!ec && c.buffer.size() > 0) {
                continue; // the head is done: on to the body
            }
        }
        const auto more =
            c.buffer.prepare(std::min(read_chunk, c.buffer.max_size() - c.buffer.size()));
        auto [ec, got] = co_await c.stream().read_some(more);
        if (ec == net::error::eof) {
            if (!p.got_some()) {
                co_return http::error::end_of_stream;
            }
            boost::system::error_code end;
            p.put_eof(end);
            co_return end;
        }
        if (ec) {
            co_return ec;
        }
        c.buffer.commit(got);
    }
}

/// Writes the request (`c.head` and the body) and reads the response head.
net::awaitable<boost::system::error_code>
exchange(upstream_connection& c, const upstream_call& call, upstream_reply::parser_type& p) {
    const std::array<net::const_buffer, 2> pieces{net::buffer(c.head),
                                                  net::buffer(call.body.data(), call.body.size())};
    const std::size_t n = call.body.empty() ? 1 : 2;
    if (auto ec = co_await c.stream().write(std::span<const net::const_buffer>(pieces.data(), n))) {
        co_return ec;
    }
    if (auto ec = co_await c.stream().await_answer()) {
        co_return ec;
    }
    co_return co_await feed(c, p, true);
}

std::unique_ptr<upstream_reply::parser_type> new_parser(http::verb method) {
    auto p = std::make_unique<upstream_reply::parser_type>();
    p->header_limit(largest_reply_head);
    p->body_limit(boost::none); // streamed, never held
    if (method == http::verb::head) {
        p->skip(true);
    }
    return p;
}

/// An interim answer (1xx but 101): the final one follows on the same connection.
bool interim(const upstream_reply::parser_type& p) {
    const unsigned status = p.get().result_int();
    return status >= 100 && status < 200 && status != 101;
}

/// Methods that may be sent twice without harm (RFC 9110 §9.2.2).
bool idempotent(http::verb method) {
    switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::options:
        return true;
    default:
        return false;
    }
}

/// The server closed a kept-alive connection before any of the response came.
bool closed_while_idle(const boost::system::error_code& ec, const upstream_connection& c,
                       const upstream_reply::parser_type& p) {
    return c.reused && !p.got_some() &&
           (ec == http::error::end_of_stream || ec == net::error::eof ||
            ec == net::error::connection_reset || ec == net::error::broken_pipe ||
            ec == net::ssl::error::stream_truncated);
}

transient_failure exchange_failure(const boost::system::error_code& ec, clock::time_point until,
                                   const std::string& where) {
    const bool late = https_connector::timed_out(ec, until);
    return transient_failure{late ? errc::request_timeout : errc::connection_lost,
                             (late ? "no response head from " + where + " within upstream_timeout"
                                   : "exchange with " + where + " failed: " + ec.message()),
                             0, std::nullopt, std::nullopt};
}

} // namespace

net::awaitable<std::variant<upstream_reply, transient_failure>>
send_upstream(upstream_pool& pool, const upstream_call& call, std::string_view authorization,
              region tenant, clock::time_point until) {
    for (bool fresh = false;; fresh = true) {
        // Not a conditional expression of two co_awaits: g++ 12 destroys the result of one.
        upstream_pool::taken taken;
        auto idle = fresh ? nullptr : pool.take_idle();
        if (idle) {
            taken = std::move(idle);
        } else {
            taken = co_await pool.open(until);
        }
        if (auto* failed = std::get_if<transient_failure>(&taken)) {
            co_return std::move(*failed);
        }
        upstream_reply reply{std::move(std::get<0>(taken)), new_parser(call.method)};
        upstream_connection& c = *reply.connection;
        write_request_head(call, pool.upstream(), authorization, tenant, c.head);
        c.stream().expires_at(until);
        auto ec = co_await exchange(c, call, *reply.parser);
        wipe(c.head); // it holds the bearer token
        // Interim answers (103 Early Hints, a stray 100) are skipped: the final head follows.
        for (int skipped = 0; !ec && interim(*reply.parser) && skipped < 8; ++skipped) {
            reply.parser = new_parser(call.method);
            ec = co_await feed(c, *reply.parser, true);
        }
        if (!ec && interim(*reply.parser)) {
            ec = http::error::bad_status;
        }
        if (!ec) {
            co_return std::move(reply);
        }
        // A non-idempotent call is never sent twice: Priava may have taken it before closing.
        if (fresh || !idempotent(call.method) || !closed_while_idle(ec, c, *reply.parser)) {
            co_return exchange_failure(ec, until, pool.upstream().host_header);
        }
    }
}

net::awaitable<body_piece> read_body_piece(upstream_reply& reply, std::span<char> into,
                                           std::chrono::milliseconds stall) {
    auto& p = *reply.parser;
    if (p.is_done()) {
        co_return body_piece{{}, 0, true};
    }
    p.get().body().data = into.data();
    p.get().body().size = into.size();
    upstream_connection& c = *reply.connection;
    c.stream().expires_after(stall);
    auto ec = co_await feed(c, p, false);
    if (ec == http::error::need_buffer) {
        ec = {};
    }
    const std::size_t got = into.size() - p.get().body().size;
    co_return body_piece{ec, got, !ec && p.is_done()};
}

net::awaitable<std::optional<std::string>> read_small_body(upstream_reply& reply, std::size_t limit,
                                                           std::chrono::milliseconds stall) {
    std::string body;
    std::array<char, 4096> chunk{};
    for (;;) {
        const auto piece = co_await read_body_piece(reply, chunk, stall);
        if (piece.error || body.size() + piece.size > limit) {
            co_return std::nullopt;
        }
        body.append(chunk.data(), piece.size);
        if (piece.done || reply.parser->is_done()) {
            co_return body;
        }
    }
}

bool reusable(const upstream_reply& reply) {
    return reply.parser->is_done() && reply.parser->keep_alive();
}

} // namespace priava_tokend
