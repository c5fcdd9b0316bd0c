#pragma once

#include <priava_tokend/api/http_response.hpp>
#include <priava_tokend/api/relay_framing.hpp>
#include <priava_tokend/api/request_parser.hpp>
#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/keeper/token_keeper.hpp>
#include <priava_tokend/proxy/budget_gate.hpp>
#include <priava_tokend/proxy/proxy_stats.hpp>
#include <priava_tokend/proxy/shared_window.hpp>
#include <priava_tokend/proxy/upstream_exchange.hpp>
#include <priava_tokend/proxy/upstream_pool.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace priava_tokend {

/// What the proxy needs of the `[proxy]` section besides the budget (docs/proxy.md).
struct proxy_settings {
    std::string base_path; ///< the upstream URL's path, e.g. `/api/rest`
    region tenant = region::us;
    std::chrono::milliseconds max_queue_wait{30'000};
    std::chrono::milliseconds upstream_timeout{60'000};
    std::uint64_t max_request_body = 8 * 1024 * 1024; ///< 413 beyond
};

/// The app's side of one proxied request: its connection, the deadline the server enforces on
/// it (moved forward before each write, and out of the way while the request waits), and who it
/// is for the budget's round-robin.
template <class Stream>
struct app_connection {
    Stream& stream;
    std::chrono::steady_clock::time_point& deadline;
    std::chrono::seconds write_timeout;
    std::string client;
    bool keep_alive = true;
};

/// How a proxied request ended: the status the app got (0 when it hung up first) and whether
/// its connection may carry another request.
struct proxy_result {
    unsigned status = 0;
    bool keep_open = false;
};

/// `ANY /v1/proxy/<path>` (docs/proxy.md): waits its turn in the budget, sends the call to
/// Priava with the held token and the region, retries once with a newer token after a 401,
/// waits out Priava's 429 and sends again, and streams the response to the app with
/// backpressure. Single-threaded, on the event loop.
class proxy_endpoint {
  public:
    /// `shared`: the cluster's budget, drawn from after the local one (null outside a cluster).
    proxy_endpoint(token_keeper& keeper, budget_gate& gate, upstream_pool& pool,
                   proxy_settings settings, const logger& log, shared_window* shared = nullptr);

    /// `app` lives in the caller's frame: g++ 12 destroys a coroutine's by-value aggregate
    /// parameter twice when it is built in the `co_await` expression.
    template <class Stream>
    net::awaitable<proxy_result> serve(app_connection<Stream>& app, const request_head& head);

    const proxy_settings& settings() const noexcept { return settings_; }
    const proxy_stats& stats() const noexcept { return stats_; }
    const budget_gate& gate() const noexcept { return gate_; }
    const upstream_pool& pool() const noexcept { return pool_; }

  private:
    struct call_state;

    /// Refuses what is never sent (a target outside the upstream, TRACE, CONNECT, an unknown
    /// method); else fills in the call.
    std::optional<response> check_request(const request_head& head, call_state& call) const;
    /// Cluster mode: the call's place in the cluster's budget, or the answer when it has none.
    /// After Priava's 429: every call waits until its retry-after (clamped); kept for the app.
    net::awaitable<void> pause_after_429(call_state& call, const upstream_reply& reply,
                                         std::string body);
    net::awaitable<std::optional<response>> draw_shared(call_state& call);
    /// The answer to a call the cluster's budget did not admit.
    response shared_refusal(const shared_window::draw_result& drawn) const;
    /// The answer to a call the budget did not admit (queue full, out of time, shutting down).
    std::optional<response> not_admitted(budget_gate::verdict v, call_state& call);
    /// The token for the call when none is held: after waiting for the first or a refresh.
    net::awaitable<std::optional<response>> fetch_token(call_state& call);
    /// After a 401: a newer token (held already, or from one coalesced forced refresh).
    net::awaitable<std::optional<response>> newer_token(call_state& call);
    /// The held token if it is newer than the one the call used.
    const held_token* newer_held(const call_state& call) const;
    /// Sends the call once it is granted; `nullopt` when it must wait and go again (429, 401).
    net::awaitable<std::optional<response>> attempt(call_state& call);
    template <class Stream>
    net::awaitable<proxy_result> answer(app_connection<Stream>& app, call_state& call, response r);
    template <class Stream>
    net::awaitable<proxy_result> relay(app_connection<Stream>& app, call_state& call);
    response budget_refusal(bool queue_full, const call_state& call) const;
    /// The head of Priava's answer as the app gets it, into `head`: Priava's end-to-end headers,
    /// the queue time, and the body's framing (its length, or chunked), which it returns.
    relay_framing relayed_head(const call_state& call, bool keep_alive, std::string& head) const;
    /// The relay's 64 KiB buffers, kept for the next calls rather than allocated per call.
    std::unique_ptr<char[]> take_chunk();
    void give_back_chunk(std::unique_ptr<char[]> c);
    static constexpr std::size_t spare_chunks_kept = 16;

    token_keeper& keeper_;
    budget_gate& gate_;
    upstream_pool& pool_;
    shared_window* shared_;
    proxy_settings settings_;
    const logger& log_;
    proxy_stats stats_;
    std::vector<std::unique_ptr<char[]>> spare_chunks_;
};

/// `Priava-Tokend-Queue-Ms`: on every proxied answer, the time it waited for the budget.
inline constexpr std::string_view queue_ms_header = "Priava-Tokend-Queue-Ms";

} // namespace priava_tokend
