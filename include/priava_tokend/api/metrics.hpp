#pragma once

#include <priava_tokend/api/routes.hpp>
#include <priava_tokend/cluster/cluster_status.hpp>
#include <priava_tokend/keeper/keeper_status.hpp>
#include <priava_tokend/keeper/refresh_stats.hpp>
#include <priava_tokend/proxy/proxy_stats.hpp>
#include <priava_tokend/proxy/request_budget.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace priava_tokend {

/// `priava_tokend_requests_total{path,code}`: a fixed table, so counting a request is an
/// increment and never an allocation.
class request_counters {
  public:
    /// Every status the socket API answers (422: a bootstrap code Priava rejected). Proxied
    /// calls are counted by `priava_tokend_proxy_requests_total` instead, Priava's codes and all.
    static constexpr std::array<unsigned, 15> codes{200, 400, 403, 404, 405, 408, 409, 413,
                                                    415, 422, 431, 500, 502, 503, 504};

    void count(api_path path, unsigned status) noexcept;
    std::uint64_t get(api_path path, unsigned status) const noexcept;

    template <class F>
    void for_each(F visit) const {
        for (std::size_t p = 0; p < api_path_count; ++p) {
            for (std::size_t c = 0; c < codes.size(); ++c) {
                if (counts_[p][c] != 0) {
                    visit(static_cast<api_path>(p), codes[c], counts_[p][c]);
                }
            }
        }
    }

  private:
    static std::size_t code_index(unsigned status) noexcept;
    std::array<std::array<std::uint64_t, codes.size()>, api_path_count> counts_{};
};

/// The socket server's connections: `priava_tokend_connections` and
/// `priava_tokend_connections_closed_total{reason}`.
struct connection_stats {
    std::uint64_t open = 0;
    std::uint64_t evicted = 0;   ///< idle ones closed to admit a new client at the cap
    std::uint64_t timed_out = 0; ///< closed by the head, idle or write deadline
};

/// The proxy's families (docs/metrics.md), appended to `render_metrics`' when it is on.
std::string render_proxy_metrics(const proxy_stats& stats, const request_budget& budget);

/// Cluster mode's families: `priava_tokend_cluster_leader` and `priava_tokend_cluster_etcd_up`.
std::string render_cluster_metrics(const cluster_status& status);

/// The Prometheus text exposition (format 0.0.4) of everything the daemon reports.
std::string render_metrics(const keeper_status& status, const refresh_stats& stats,
                           const request_counters& requests, const connection_stats& connections);

} // namespace priava_tokend
