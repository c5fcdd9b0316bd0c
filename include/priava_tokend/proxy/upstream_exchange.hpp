#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/priava/region.hpp>
#include <priava_tokend/priava/token_response.hpp>
#include <priava_tokend/proxy/upstream_pool.hpp>

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace priava_tokend {

/// One API call as the daemon sends it to Priava.
struct upstream_call {
    boost::beast::http::verb method = boost::beast::http::verb::get;
    std::string target;                              ///< from `map_upstream_target`
    const boost::beast::http::fields* app_headers{}; ///< filtered by `append_request_headers`
    std::string_view body;
};

/// Priava's answer with its head read and its body still on the connection.
struct upstream_reply {
    using parser_type = boost::beast::http::response_parser<boost::beast::http::buffer_body>;
    std::unique_ptr<upstream_connection> connection;
    std::unique_ptr<parser_type> parser;

    unsigned status() const { return parser->get().result_int(); }
    const boost::beast::http::fields& headers() const { return parser->get().base(); }
};

/// Sends `call` with `Authorization: <authorization>` and `TenantRegion: <tenant>` on a pooled
/// connection and reads the response head, all by `until`; interim 1xx heads are skipped. For an
/// idempotent method, a kept-alive connection that the server closed before answering (the race
/// every client of keep-alive meets) is replaced by a new one once; another call is never sent
/// twice.
net::awaitable<std::variant<upstream_reply, transient_failure>>
send_upstream(upstream_pool& pool, const upstream_call& call, std::string_view authorization,
              region tenant, std::chrono::steady_clock::time_point until);

/// Reads the next piece of the body into `into`: the bytes read, 0 with `done` at the end.
/// An error (a reset, a truncated body, `stall` without a byte) means the body is incomplete.
struct body_piece {
    boost::system::error_code error;
    std::size_t size = 0;
    bool done = false;
};
net::awaitable<body_piece> read_body_piece(upstream_reply& reply, std::span<char> into,
                                           std::chrono::milliseconds stall);

/// The whole body when it is at most `limit` bytes (a 401's or a 429's); nothing when it is
/// larger or cannot be read, and then the connection is not to be reused.
net::awaitable<std::optional<std::string>> read_small_body(upstream_reply& reply, std::size_t limit,
                                                           std::chrono::milliseconds stall);

/// True when the connection may carry the next call: the body was read whole and neither side
/// asked to close.
bool reusable(const upstream_reply& reply);

} // namespace priava_tokend
