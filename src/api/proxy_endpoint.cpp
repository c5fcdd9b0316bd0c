#include <priava_tokend/api/connection_socket.hpp>
#include <priava_tokend/api/proxy_endpoint.hpp>
#include <priava_tokend/api/relay_framing.hpp>
#include <priava_tokend/api/socket_api.hpp>
#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/priava/retry_after.hpp>
#include <priava_tokend/proxy/budgeted_token_client.hpp>
#include <priava_tokend/proxy/forwarded_headers.hpp>
#include <priava_tokend/proxy/upstream_target.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>

#include <tuple>
#include <vector>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using clock = std::chrono::steady_clock;

/// A 401's or a 429's body, read whole to learn Priava's retry-after and keep the connection.
constexpr std::size_t largest_error_body = 64 * 1024;
/// What the relay reads from Priava before writing it to the app: the most a response costs
/// the daemon, however large it is and however slowly the app reads.
constexpr std::size_t relay_chunk = 64 * 1024;

std::string whole_milliseconds(clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

response upstream_failure(const transient_failure& f) {
    if (f.reason == errc::request_timeout) {
        return error_response(504, "upstream_timeout", f.detail);
    }
    return error_response(502, "upstream_unreachable", f.detail);
}

/// Priava's 429 as it came, kept for the app in case its wait runs out.
response copy_of(const upstream_reply& reply, std::string body) {
    http_message m;
    m.result(reply.status());
    copy_response_headers(reply.headers(), m.base());
    m.body() = std::move(body);
    m.prepare_payload();
    return response(std::move(m));
}

/// Writes to the app what its socket takes at once, without suspending: a small answer costs
/// one system call and no trip through the event loop, as in socket_server. A socket Asio may
/// block on (not made non-blocking for synchronous operations) gets nothing this way.
template <class Stream, class Buffers>
std::size_t write_now(Stream& stream, const Buffers& buffers, boost::system::error_code& ec) {
    if (!stream.non_blocking()) {
        return 0;
    }
    const std::size_t n = stream.write_some(buffers, ec);
    if (ec == net::error::would_block) {
        ec = {};
        return 0;
    }
    return n;
}

/// The path of a call without its query, for the log.
std::string_view path_of(const std::string& target) {
    return std::string_view(target).substr(0, target.find('?'));
}

} // namespace

struct proxy_endpoint::call_state {
    upstream_call call;
    unsigned app_version = 11;
    int app_fd = -1;
    clock::time_point arrived = clock::now();
    clock::time_point until;
    clock::duration waited{};
    std::string authorization; ///< `Bearer <access token>`
    std::uint64_t generation = 0;
    budget_gate::ticket ticket = 0;
    bool retried_401 = false;
    std::optional<upstream_reply> reply; ///< to relay
    std::optional<response> priava_429;  ///< the last one, for when the wait runs out

    /// A reader's answer: its token taken for the call, or the refusal to answer the app with.
    std::optional<response> take(const token_answer& a) {
        if (a.token == nullptr) {
            return refusal_response(a);
        }
        use(*a.token);
        return std::nullopt;
    }

    void use(const held_token& t) {
        wipe(authorization);
        authorization = "Bearer ";
        authorization += t.access_token.reveal();
        generation = t.generation;
    }
    ~call_state() { wipe(authorization); }
};

proxy_endpoint::proxy_endpoint(token_keeper& keeper, budget_gate& gate, upstream_pool& pool,
                               proxy_settings settings, const logger& log, shared_window* shared)
    : keeper_(keeper)
    , gate_(gate)
    , pool_(pool)
    , shared_(shared)
    , settings_(std::move(settings))
    , log_(log) {}

template <class Stream>
net::awaitable<proxy_result> proxy_endpoint::serve(app_connection<Stream>& app,
                                                   const request_head& head) {
    call_state call;
    call.until = call.arrived + settings_.max_queue_wait;
    call.app_fd = app.stream.native_handle();
    call.app_version = head.version;
    if (head.version == 10) {
        app.keep_alive = false; // the daemon's answers to it may be framed by the close
    }
    app.deadline = clock::time_point::max(); // the budget and upstream_timeout bound the wait
    if (auto refused = check_request(head, call)) {
        co_return co_await answer(app, call, std::move(*refused));
    }
    // The common case needs no waiting: a token is held and the budget has room.
    if (const held_token* t = keeper_.usable_token()) {
        call.use(*t);
    } else if (auto refused = co_await fetch_token(call)) {
        co_return co_await answer(app, call, std::move(*refused));
    }
    auto wait_began = clock::now();
    auto admitted = gate_.try_enter(app.client);
    if (admitted.result == budget_gate::verdict::waiting) {
        admitted = co_await gate_.wait(admitted.id, call.until, call.app_fd);
    }
    for (;;) {
        call.waited += clock::now() - wait_began;
        if (admitted.result == budget_gate::verdict::client_left) {
            stats_.waited(call.waited);
            co_return proxy_result{0, false};
        }
        if (auto refused = not_admitted(admitted.result, call)) {
            co_return co_await answer(app, call, std::move(*refused));
        }
        call.ticket = admitted.id;
        if (auto done = co_await attempt(call)) {
            co_return co_await answer(app, call, std::move(*done));
        }
        if (call.reply) {
            co_return co_await relay(app, call);
        }
        wait_began = clock::now(); // a 429's pause, or a 401's retry
        admitted = co_await gate_.wait(call.ticket, call.until, call.app_fd);
    }
}

std::optional<response> proxy_endpoint::check_request(const request_head& head,
                                                      call_state& call) const {
    auto target = map_upstream_target(head.target, settings_.base_path);
    if (!target.ok()) {
        return error_response(400, "bad_request", target.refusal);
    }
    if (head.method == http::verb::trace || head.method == http::verb::connect) {
        // TRACE would echo the request, token included, back to the app.
        return error_response(405, "method_not_allowed",
                              "TRACE and CONNECT are not sent to Priava");
    }
    if (head.method == http::verb::unknown) {
        return error_response(501, "not_implemented", "the proxy does not know that method");
    }
    call.call = upstream_call{head.method, std::move(target.target), &head.fields, head.body};
    return std::nullopt;
}

std::optional<response> proxy_endpoint::not_admitted(budget_gate::verdict v, call_state& call) {
    switch (v) {
    case budget_gate::verdict::queue_full:
        return budget_refusal(true, call);
    case budget_gate::verdict::timed_out:
        if (gate_.closed()) {
            return error_response(503, "shutting_down", "the daemon is stopping");
        }
        if (call.priava_429) { // the app sees Priava's 429 only when its wait runs out
            return std::move(*call.priava_429);
        }
        return budget_refusal(false, call);
    case budget_gate::verdict::granted:
    case budget_gate::verdict::waiting: // not after a wait
    case budget_gate::verdict::client_left:
        break;
    }
    return std::nullopt;
}

net::awaitable<std::optional<response>> proxy_endpoint::fetch_token(call_state& call) {
    const token_answer a = co_await keeper_.token_with_ttl(std::chrono::seconds{0});
    co_return call.take(a);
}

net::awaitable<std::optional<response>> proxy_endpoint::newer_token(call_state& call) {
    if (const held_token* t = newer_held(call)) {
        call.use(*t);
        co_return std::nullopt;
    }
    const token_answer a = co_await keeper_.refreshed_token(); // coalesced with other callers
    co_return call.take(a);
}

const held_token* proxy_endpoint::newer_held(const call_state& call) const {
    const held_token* t = keeper_.usable_token();
    return t != nullptr && t->generation > call.generation ? t : nullptr;
}

net::awaitable<std::optional<response>> proxy_endpoint::draw_shared(call_state& call) {
    const auto drew = clock::now();
    const auto drawn = co_await shared_->draw(call.until);
    call.waited += clock::now() - drew;
    if (drawn.granted) {
        co_return std::nullopt;
    }
    gate_.finished(call.ticket);
    co_return shared_refusal(drawn);
}

net::awaitable<std::optional<response>> proxy_endpoint::attempt(call_state& call) {
    if (shared_ != nullptr) { // not a coroutine's frame per call when there is no cluster
        if (auto refused = co_await draw_shared(call)) {
            co_return refused;
        }
    }
    if (const held_token* t = newer_held(call)) {
        call.use(*t); // refreshed while this call waited
    }
    auto sent = co_await send_upstream(pool_, call.call, call.authorization, settings_.tenant,
                                       clock::now() + settings_.upstream_timeout);
    if (auto* failed = std::get_if<transient_failure>(&sent)) {
        gate_.finished(call.ticket);
        log_.warning("proxy: " + std::string(http::to_string(call.call.method)) + " " +
                     std::string(path_of(call.call.target)) + ": " + failed->detail);
        co_return upstream_failure(*failed);
    }
    auto& reply = std::get<upstream_reply>(sent);
    const unsigned status = reply.status();
    if (status != 401 && status != 429) {
        call.reply = std::move(reply);
        co_return std::nullopt;
    }
    if (status == 401 && call.retried_401) {
        call.reply = std::move(reply); // a second 401 goes to the app
        co_return std::nullopt;
    }
    auto body = co_await read_small_body(reply, largest_error_body, settings_.upstream_timeout);
    if (body && reusable(reply)) {
        pool_.give_back(std::move(reply.connection));
    }
    if (status == 401) {
        gate_.finished(call.ticket);
        ++stats_.retries_401;
        call.retried_401 = true;
        if (auto refused = co_await newer_token(call)) {
            co_return refused;
        }
        call.ticket = gate_.again();
        call.until = std::max(call.until, clock::now() + settings_.max_queue_wait);
        co_return std::nullopt;
    }
    co_await pause_after_429(call, reply, body.value_or(std::string{}));
    co_return std::nullopt;
}

net::awaitable<void> proxy_endpoint::pause_after_429(call_state& call, const upstream_reply& reply,
                                                     std::string body) {
    const auto wall_now = std::chrono::system_clock::now();
    const auto now = clock::now();
    const auto at = priava_retry_after(body, reply.headers()[http::field::retry_after], wall_now);
    const auto until = at ? steady_moment(*at, wall_now, now) : now;
    ++stats_.retries_429;
    const bool was_paused = gate_.budget().paused_until(now).has_value();
    call.priava_429 = copy_of(reply, std::move(body));
    gate_.rate_limited(call.ticket, until);
    if (shared_ != nullptr) { // every node pauses, for as long as this one does
        const auto paused = gate_.budget().paused_until(now);
        co_await shared_->pause(wall_now + (paused ? *paused - now : clock::duration{}));
    }
    if (const auto paused = gate_.budget().paused_until(now); paused && !was_paused) {
        log_.warning("proxy: Priava answered 429; no call is sent for " +
                     format_duration(std::chrono::duration_cast<milliseconds>(*paused - now)) +
                     " (its retry-after, clamped to [1s, window])");
    }
}

template <class Stream>
net::awaitable<proxy_result> proxy_endpoint::answer(app_connection<Stream>& app, call_state& call,
                                                    response r) {
    const unsigned status = r.status();
    r.message().set(queue_ms_header, whole_milliseconds(call.waited));
    stats_.answered(status);
    stats_.waited(call.waited);
    const bool keep = app.keep_alive && !r.close;
    const auto bytes = r.wire(keep);
    app.deadline = clock::now() + app.write_timeout;
    auto [ec, n] = co_await net::async_write(app.stream, net::buffer(bytes), use_nothrow);
    co_return proxy_result{status, keep && !ec};
}

relay_framing proxy_endpoint::relayed_head(const call_state& call, bool keep_alive,
                                           std::string& head) const {
    const upstream_reply& reply = *call.reply;
    const auto& parser = *reply.parser;
    const unsigned status = reply.status();
    relay_framing framing = relay_framing::none;
    std::optional<std::uint64_t> length;
    if (call.call.method == http::verb::head) {
        if (const auto cl = reply.headers()[http::field::content_length]; !cl.empty()) {
            length = parse_number<std::uint64_t>(cl);
        }
    } else if (const auto cl = parser.content_length()) {
        framing = relay_framing::length;
        length = *cl;
    } else if (!parser.is_done()) {
        // Chunked from Priava, or until it closes: chunked to the app (an HTTP/1.0 app reads
        // the body until the connection closes).
        framing = call.app_version == 10 ? relay_framing::until_close : relay_framing::chunked;
    } else if (status >= 200 && status != 204 && status != 304) {
        length = 0;
    }
    const unsigned version = call.app_version == 10 ? 10 : 11;
    head = response_head_text(version, status, parser.get().reason(), reply.headers(), length,
                              framing == relay_framing::chunked,
                              keep_alive && framing != relay_framing::until_close);
    head.append(queue_ms_header);
    head.append(": ");
    head.append(whole_milliseconds(call.waited));
    head.append("\r\n\r\n");
    return framing;
}

template <class Stream>
net::awaitable<proxy_result> proxy_endpoint::relay(app_connection<Stream>& app, call_state& call) {
    upstream_reply& reply = *call.reply;
    auto& parser = *reply.parser;
    const unsigned status = reply.status();
    std::string head;
    const relay_framing framing = relayed_head(call, app.keep_alive, head);
    stats_.answered(status);
    stats_.waited(call.waited);
    // The head goes out with the first piece of the body, in one write: a small answer costs one
    // system call to the app.
    bool app_ok = true;
    bool upstream_ok = true;
    auto chunk = take_chunk();
    std::uint64_t relayed = 0;
    body_piece piece{{}, 0, parser.is_done()};
    do {
        if (!parser.is_done()) {
            app.deadline = clock::time_point::max(); // upstream_timeout bounds the read
            piece = co_await read_body_piece(reply, std::span<char>(chunk.get(), relay_chunk),
                                             settings_.upstream_timeout);
        }
        if (piece.error) {
            upstream_ok = false;
            log_.warning("proxy: the response to " +
                         std::string(http::to_string(call.call.method)) + " " +
                         std::string(path_of(call.call.target)) + " broke off after " +
                         std::to_string(relayed) + " bytes (" + piece.error.message() +
                         "); the app's connection is closed so it cannot take it for whole");
            break;
        }
        relayed += piece.size;
        framed_piece framed(framing, head, std::string_view(chunk.get(), piece.size), piece.done);
        app.deadline = clock::now() + app.write_timeout;
        boost::system::error_code ec;
        const std::size_t now = write_now(app.stream, framed.buffers(), ec);
        if (!ec && now < net::buffer_size(framed.buffers())) {
            boost::beast::buffers_suffix rest(framed.buffers());
            rest.consume(now);
            std::tie(ec, std::ignore) = co_await net::async_write(app.stream, rest, use_nothrow);
        }
        app_ok = !ec;
        head.clear(); // written with the first piece
    } while (app_ok && !piece.done);
    give_back_chunk(std::move(chunk));
    gate_.finished(call.ticket);
    if (app_ok && upstream_ok && reusable(reply)) {
        pool_.give_back(std::move(reply.connection));
    }
    co_return proxy_result{status, app_ok && upstream_ok && app.keep_alive &&
                                       framing != relay_framing::until_close};
}

std::unique_ptr<char[]> proxy_endpoint::take_chunk() {
    if (spare_chunks_.empty()) {
        // Not zeroed: filling 64 KiB of fresh pages per call was most of a call's CPU time.
        return std::unique_ptr<char[]>(new char[relay_chunk]);
    }
    auto c = std::move(spare_chunks_.back());
    spare_chunks_.pop_back();
    return c;
}

void proxy_endpoint::give_back_chunk(std::unique_ptr<char[]> c) {
    if (spare_chunks_.size() < spare_chunks_kept) {
        spare_chunks_.push_back(std::move(c));
    }
}

response proxy_endpoint::shared_refusal(const shared_window::draw_result& drawn) const {
    if (drawn.unavailable) {
        return error_response(503, "cluster_budget_unavailable",
                              "the cluster's budget of Priava requests cannot be read (etcd does "
                              "not answer); nothing is sent");
    }
    const auto left =
        std::chrono::ceil<std::chrono::seconds>(drawn.retry_at - std::chrono::system_clock::now());
    auto r = error_response(429, "budget_exhausted",
                            "the cluster's budget of Priava requests is spent (or paused after "
                            "Priava's 429) beyond max_queue_wait");
    r.message().set(http::field::retry_after,
                    std::to_string(std::max<std::int64_t>(1, left.count())));
    return r;
}

response proxy_endpoint::budget_refusal(bool queue_full, const call_state& call) const {
    const auto& limits = gate_.budget().limits();
    response r =
        queue_full
            ? error_response(429, "queue_full",
                             std::to_string(limits.max_queued) +
                                 " calls already wait for Priava's budget (proxy.max_queued)")
            : error_response(429, "budget_exhausted",
                             "no room in Priava's budget of " + std::to_string(limits.budget) +
                                 " calls per " + format_duration(limits.window) + " within " +
                                 format_duration(std::chrono::duration_cast<milliseconds>(
                                     clock::now() - call.arrived)) +
                                 " (proxy.max_queue_wait)");
    r.message().set(http::field::retry_after,
                    std::to_string(gate_.budget().retry_after(clock::now()).count()));
    return r;
}

template net::awaitable<proxy_result>
proxy_endpoint::serve<connection_socket>(app_connection<connection_socket>&, const request_head&);
template net::awaitable<proxy_result>
proxy_endpoint::serve<net::ip::tcp::socket>(app_connection<net::ip::tcp::socket>&,
                                            const request_head&);

} // namespace priava_tokend
