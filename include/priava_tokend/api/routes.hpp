#pragma once

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

/// The endpoints of the socket API (docs/socket-api.md). `other` is every unknown path.
enum class api_path {
    token,
    token_refresh,
    bootstrap,
    status,
    livez,
    healthz,
    readyz,
    metrics,
    proxy, ///< `/v1/proxy/<path>`, any method
    other,
};
inline constexpr std::size_t api_path_count = 10;

/// The label of `path` in `priava_tokend_requests_total{path=...}`.
std::string_view to_string(api_path path) noexcept;

/// The query of `GET /v1/token`.
struct token_query {
    std::optional<std::chrono::seconds> min_ttl;
    std::optional<std::uint64_t> newer_than;
    std::chrono::seconds wait{30}; ///< for newer_than; at most 300
};

/// A request sorted out from its method and target, or why it cannot be served.
struct route {
    enum class verdict { ok, not_found, method_not_allowed, bad_request };
    verdict outcome = verdict::ok;
    api_path path = api_path::other;
    token_query query;
    std::string_view allow; ///< for 405: the methods the path takes
    std::string problem;    ///< for 400: what is wrong, naming the parameter
};

/// Pure routing: no I/O, no state. Every target below `/v1/proxy/` routes to `proxy`.
route route_request(boost::beast::http::verb method, std::string_view target);

inline constexpr std::chrono::seconds longest_long_poll{300};
inline constexpr std::chrono::seconds largest_min_ttl{24 * 3600};

} // namespace priava_tokend
