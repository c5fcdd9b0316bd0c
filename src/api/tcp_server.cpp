#include <priava_tokend/api/tcp_admission.hpp>
#include <priava_tokend/api/tcp_server.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/proxy/upstream_target.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using clock = std::chrono::steady_clock;

constexpr std::uint32_t largest_head = 8 * 1024;
constexpr std::uint64_t largest_plain_body = 1024;
constexpr std::size_t longest_client_name = 64;

response closing(response r) {
    r.close = true;
    return r;
}

response read_failure(const boost::system::error_code& ec, std::uint64_t body_limit) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
        return closing(
            error_response(431, "request_header_too_large", "request head larger than 8 KiB"));
    }
    if (ec == http::error::body_limit) {
        return closing(error_response(
            413, "payload_too_large",
            "request body larger than " + std::to_string(body_limit) +
                " bytes (proxy.max_request_body for /v1/proxy/, 1 KiB for the rest)"));
    }
    return closing(error_response(400, "bad_request", "malformed HTTP request: " + ec.message()));
}

/// The parts of a parsed request the API and the proxy read.
void fill(request_head& head, http::request<http::string_body>& req) {
    head.method = req.method();
    head.version = req.version();
    head.target.assign(req.target().data(), req.target().size());
    head.content_type = std::string(req[http::field::content_type]);
    head.body = std::move(req.body());
    head.proxied = head.target.starts_with(proxy_route_prefix);
    head.fields = static_cast<const http::fields&>(req);
}

std::string client_of(const http::fields& headers) {
    const auto named = headers[tcp_client_header];
    if (named.empty()) {
        return "tcp";
    }
    return "tcp " + std::string(named.substr(0, longest_client_name));
}

} // namespace

std::optional<tcp::endpoint> loopback_endpoint(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    std::string host(text.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (boost::beast::iequals(host, "localhost")) {
        host = "127.0.0.1";
    }
    unsigned port = 0;
    const auto digits = text.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
        return std::nullopt;
    }
    port = static_cast<unsigned>(std::stoul(std::string(digits)));
    boost::system::error_code ec;
    const auto address = net::ip::make_address(host, ec);
    if (ec || !address.is_loopback() || port == 0 || port > 65535) {
        return std::nullopt;
    }
    return tcp::endpoint{address, static_cast<std::uint16_t>(port)};
}

struct tcp_server::connection {
    explicit connection(tcp::socket s)
        : socket(std::move(s)) {}
    tcp::socket socket;
    clock::time_point deadline = clock::time_point::max();
    boost::beast::flat_buffer buffer{16 * 1024};
    request_head head;
};

/// Keeps the connection list true whichever way a session ends.
struct tcp_server::registration {
    tcp_server& server;
    std::list<connection>::iterator self;
    ~registration() {
        server.connections_.erase(self);
        server.changes_.notify_all();
    }
};

tcp_server::tcp_server(net::any_io_executor ex, const tcp::endpoint& endpoint, socket_api& api,
                       secret auth_token, const logger& log, limits l)
    : ex_(ex)
    , acceptor_(ex, endpoint)
    , endpoint_(acceptor_.local_endpoint())
    , api_(api)
    , auth_token_(std::move(auth_token))
    , log_(log)
    , limits_(l) {}

tcp_server::~tcp_server() = default;

net::awaitable<void> tcp_server::run() {
    while (!stopping_) {
        while (connections_.size() >= limits_.max_connections && !stopping_) {
            co_await changes_.wait_until(clock::time_point::max());
        }
        auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
        if (stopping_) {
            break;
        }
        if (ec) {
            if (ec == net::error::no_descriptors || ec == net::error::no_buffer_space ||
                ec == net::error::no_memory || ec == net::error::connection_aborted) {
                log_.error("accept on " + endpoint_.address().to_string() + ":" +
                           std::to_string(endpoint_.port()) + " failed: " + ec.message());
                net::steady_timer pause(ex_, std::chrono::milliseconds{100});
                co_await pause.async_wait(use_nothrow);
                continue;
            }
            throw boost::system::system_error(ec, "accept on the proxy's TCP listener");
        }
        socket.set_option(tcp::no_delay(true));
        const auto it = connections_.emplace(connections_.end(), std::move(socket));
        if (!sweeping_) {
            net::co_spawn(ex_, sweep(), [](const std::exception_ptr&) {});
        }
        net::co_spawn(ex_, session(it), [this](const std::exception_ptr& e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    log_.error(std::string("TCP connection failed unexpectedly: ") + x.what());
                }
            }
        });
    }
}

void tcp_server::stop() {
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    changes_.notify_all();
    for (auto& c : connections_) {
        if (c.deadline != clock::time_point::max()) { // waiting for a request, or writing
            c.socket.close(ignored);
        }
    }
}

net::awaitable<void> tcp_server::sweep() {
    sweeping_ = true;
    net::steady_timer tick(ex_);
    while (!connections_.empty()) {
        tick.expires_after(std::chrono::seconds{1});
        co_await tick.async_wait(use_nothrow);
        const auto now = clock::now();
        for (auto& c : connections_) {
            if (c.deadline <= now) {
                boost::system::error_code ignored;
                c.socket.close(ignored);
            }
        }
    }
    sweeping_ = false;
}

net::awaitable<void> tcp_server::session(std::list<connection>::iterator self) {
    const registration reg{*this, self};
    connection& c = *self;
    for (bool first = true; !stopping_; first = false) {
        const bool keep = co_await serve_one(c, first);
        if (!keep) {
            break;
        }
    }
    boost::system::error_code ignored;
    c.socket.close(ignored);
}

net::awaitable<bool> tcp_server::serve_one(connection& c, bool first) {
    c.deadline = clock::now() + (first ? limits_.head_timeout : limits_.idle_timeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(largest_head);
    // Beast checks a Content-Length against the limit as the head ends, before the target is
    // known: the largest limit first, the plain one once the head shows it is not proxied.
    proxy_endpoint* proxy = api_.proxy();
    const std::uint64_t proxy_limit =
        proxy != nullptr ? std::max(proxy->settings().max_request_body, largest_plain_body)
                         : largest_plain_body;
    parser.body_limit(proxy_limit);
    auto [head_ec, head_n] =
        co_await http::async_read_header(c.socket, c.buffer, parser, use_nothrow);
    if (head_ec) {
        if (head_ec == http::error::end_of_stream || !parser.got_some()) {
            co_return false; // closed, or timed out, between requests
        }
        co_return co_await write(c, read_failure(head_ec, proxy_limit), false);
    }
    auto& req = parser.get();
    if (auto refused = tcp_refusal(req, req.target(), auth_token_)) {
        co_return co_await write(c, closing(std::move(*refused)), false);
    }
    const bool proxied = req.target().starts_with(proxy_route_prefix) && proxy != nullptr;
    const std::uint64_t limit = proxied ? proxy_limit : largest_plain_body;
    if (parser.content_length().value_or(0) > limit) {
        co_return co_await write(c, read_failure(http::error::body_limit, limit), false);
    }
    parser.body_limit(limit);
    if (boost::beast::iequals(req[http::field::expect], "100-continue")) {
        co_await net::async_write(
            c.socket, net::buffer(std::string_view("HTTP/1.1 100 Continue\r\n\r\n")), use_nothrow);
    }
    c.deadline = clock::now() + limits_.head_timeout;
    auto [body_ec, body_n] = co_await http::async_read(c.socket, c.buffer, parser, use_nothrow);
    if (body_ec) {
        co_return co_await write(c, read_failure(body_ec, limit), false);
    }
    const bool keep_alive = parser.keep_alive() && !stopping_;
    fill(c.head, req);
    co_return co_await respond(c, proxied, keep_alive);
}

net::awaitable<bool> tcp_server::respond(connection& c, bool proxied, bool keep_alive) {
    if (proxied) {
        app_connection<tcp::socket> app{c.socket, c.deadline, limits_.write_timeout,
                                        client_of(c.head.fields), keep_alive};
        const auto done = co_await api_.proxy()->serve(app, c.head);
        co_return done.keep_open;
    }
    const route r = route_request(c.head.method, c.head.target);
    if (r.path == api_path::bootstrap) {
        wipe(c.head.body);
        co_return co_await write(
            c, error_response(403, "forbidden", "bootstrap is served on the Unix socket only"),
            keep_alive);
    }
    c.deadline = clock::time_point::max(); // the keeper bounds every wait
    caller who{c.socket.native_handle(), std::nullopt};
    auto answer = api_.answer_now(r, c.head);
    if (!answer) {
        answer = co_await api_.answer(r, c.head, who);
    }
    api_.counters().count(r.path, answer->status());
    co_return co_await write(c, std::move(*answer), keep_alive);
}

net::awaitable<bool> tcp_server::write(connection& c, response r, bool keep_alive) {
    const bool keep = keep_alive && !r.close;
    const auto bytes = r.wire(keep);
    c.deadline = clock::now() + limits_.write_timeout;
    auto [ec, n] = co_await net::async_write(c.socket, net::buffer(bytes), use_nothrow);
    co_return keep && !ec;
}

} // namespace priava_tokend
