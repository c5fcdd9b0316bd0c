#include <priava_tokend/core/version.hpp>
#include <priava_tokend/priava/https_connector.hpp>
#include <priava_tokend/proxy/forwarded_headers.hpp>
#include <priava_tokend/proxy/upstream_exchange.hpp>

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>

namespace priava_tokend {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using clock = std::chrono::steady_clock;

/// Priava's response heads are small; this bounds a broken or hostile one.
constexpr std::uint32_t largest_reply_head = 64 * 1024;

using outgoing = http::request<http::span_body<const char>>;

outgoing make_request(const upstream_call& call, const token_endpoint& upstream,
                      std::string_view authorization, region tenant) {
    outgoing req{call.method, call.target, 11};
    req.set(http::field::host, upstream.host_header);
    if (call.app_headers != nullptr) {
        copy_request_headers(*call.app_headers, req.base());
    }
    if (req.find(http::field::user_agent) == req.end()) {
        req.set(http::field::user_agent, "priava-tokend/" + std::string(version()));
    }
    req.set(http::field::authorization, authorization);
    req.set("TenantRegion", to_string(tenant));
    req.body() = std::span<const char>(call.body.data(), call.body.size());
    req.prepare_payload();
    return req;
}

template <class Stream>
net::awaitable<boost::system::error_code> exchange(Stream& stream, upstream_connection& c,
                                                   outgoing& req, upstream_reply::parser_type& p,
                                                   clock::time_point until) {
    c.socket().expires_at(until);
    auto [write_ec, written] = co_await http::async_write(stream, req, use_nothrow);
    if (write_ec) {
        co_return write_ec;
    }
    c.socket().expires_at(until);
    auto [read_ec, read] = co_await http::async_read_header(stream, c.buffer, p, use_nothrow);
    co_return read_ec;
}

template <class Stream>
net::awaitable<boost::system::error_code> read_head(Stream& stream, upstream_connection& c,
                                                    upstream_reply::parser_type& p) {
    auto [ec, n] = co_await http::async_read_header(stream, c.buffer, p, use_nothrow);
    co_return ec;
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

template <class F>
auto on_stream(upstream_connection& c, F&& f) {
    return c.tls() ? f(c.tls_side()) : f(c.plain_side());
}

} // namespace

net::awaitable<std::variant<upstream_reply, transient_failure>>
send_upstream(upstream_pool& pool, const upstream_call& call, std::string_view authorization,
              region tenant, clock::time_point until) {
    auto req = make_request(call, pool.upstream(), authorization, tenant);
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
        auto ec = co_await on_stream(
            c, [&](auto& stream) { return exchange(stream, c, req, *reply.parser, until); });
        // Interim answers (103 Early Hints, a stray 100) are skipped: the final head follows.
        for (int skipped = 0; !ec && interim(*reply.parser) && skipped < 8; ++skipped) {
            reply.parser = new_parser(call.method);
            c.socket().expires_at(until);
            ec = co_await on_stream(
                c, [&](auto& stream) { return read_head(stream, c, *reply.parser); });
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
    c.socket().expires_after(stall);
    auto [ec, n] = co_await on_stream(
        c, [&](auto& stream) { return http::async_read(stream, c.buffer, p, use_nothrow); });
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
