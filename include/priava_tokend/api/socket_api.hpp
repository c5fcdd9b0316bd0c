#pragma once

#include <priava_tokend/api/caller.hpp>
#include <priava_tokend/api/http_response.hpp>
#include <priava_tokend/api/metrics.hpp>
#include <priava_tokend/api/proxy_endpoint.hpp>
#include <priava_tokend/api/request_parser.hpp>
#include <priava_tokend/api/routes.hpp>
#include <priava_tokend/cluster/cluster_member.hpp>
#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/keeper/token_keeper.hpp>

#include <optional>

namespace priava_tokend {

/// Answers the socket API (docs/socket-api.md) from the keeper. `answer_now` serves what needs
/// no waiting, which is nearly everything; `answer` covers the rest (min_ttl refresh, long poll,
/// forced refresh, bootstrap). The token answer is serialised once per generation and second and
/// shared.
class socket_api {
  public:
    socket_api(token_keeper& keeper, const logger& log, std::string state_path);

    /// The answer to a request whose head was parsed, unless it has to wait: then nothing, and
    /// `answer` gives it. Access control (`listen.allow_uids`/`allow_gids`) is the caller's.
    std::optional<response> answer_now(const route& r, const request_head& head);
    net::awaitable<response> answer(const route& r, const request_head& head, caller& who);

    /// Serves `/v1/proxy/` through `proxy` from now on (null: the proxy is off).
    void serve_proxy(proxy_endpoint* proxy) noexcept { proxy_ = proxy; }
    proxy_endpoint* proxy() const noexcept { return proxy_; }

    /// Shows `cluster` in `/v1/status` and the metrics from now on (null: not in cluster mode).
    void show_cluster(const cluster_member* cluster) noexcept { cluster_ = cluster; }

    request_counters& counters() noexcept { return counters_; }
    connection_stats& connections() noexcept { return connections_; }

    /// At most `cap` long polls (`newer_than=`) wait at once; more get 503 `too_many_waiters`
    /// with Retry-After at once. The daemon sets half of `listen.max_connections`, so that long
    /// polls can never hold every connection slot and a plain `GET /v1/token` always gets one.
    void cap_long_polls(std::size_t cap) noexcept { long_poll_cap_ = cap; }

  private:
    response token(const token_answer& a);
    response status() const;
    response metrics() const;
    net::awaitable<response> bootstrap(const request_head& head, caller& who);

    token_keeper& keeper_;
    const logger& log_;
    std::string state_path_;
    request_counters counters_;
    connection_stats connections_;
    proxy_endpoint* proxy_ = nullptr;
    const cluster_member* cluster_ = nullptr;
    std::size_t long_polls_ = 0;
    std::size_t long_poll_cap_ = 512;

    struct cached_token {
        std::uint64_t generation = 0;
        std::int64_t seconds_left = -1;
        std::shared_ptr<const prepared_answer> answer;
    } cache_;
};

/// The one place a refusal becomes an HTTP status and `error` code.
std::pair<unsigned, std::string_view> http_status_of(refusal why) noexcept;

/// A reader's refusal as its JSON error response (503 with `Retry-After`, 409, 422).
response refusal_response(const token_answer& a);

/// The answer to a request that cannot be routed: 404, 405 (with `Allow`) or 400.
response unroutable(const route& r);

} // namespace priava_tokend
