#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>

namespace priava_tokend {

/// What the proxy counts for `/metrics` (docs/metrics.md): the answers apps got, the time they
/// waited for the budget, and the retries.
struct proxy_stats {
    /// Upper bounds of `priava_tokend_proxy_queue_wait_seconds`' buckets (+Inf besides).
    static constexpr std::array<double, 11> wait_buckets{0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
                                                         1,     5,     10,   30,   60};

    std::map<unsigned, std::uint64_t> responses;                  ///< by the status the app got
    std::array<std::uint64_t, wait_buckets.size()> wait_counts{}; ///< not cumulative
    std::uint64_t waits = 0;
    double wait_sum_seconds = 0;
    std::uint64_t retries_401 = 0;
    std::uint64_t retries_429 = 0;

    void answered(unsigned status) { ++responses[status]; }
    void waited(std::chrono::steady_clock::duration d);
};

} // namespace priava_tokend
