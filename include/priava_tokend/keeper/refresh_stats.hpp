#pragma once

#include <priava_tokend/core/timestamp.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

namespace priava_tokend {

/// Counters behind `priava_tokend_refresh_*` and the state-file metrics.
struct refresh_stats {
    /// Upper bounds (seconds) of the refresh duration histogram; +Inf is implied.
    static constexpr std::array<double, 10> bucket_bounds{0.05, 0.1, 0.25, 0.5, 1,
                                                          2.5,  5,   10,   30,  60};

    std::uint64_t success = 0;
    std::uint64_t transient_error = 0;
    std::uint64_t rejected = 0;
    std::array<std::uint64_t, bucket_bounds.size()> buckets{}; ///< non-cumulative counts
    std::uint64_t duration_count = 0;
    double duration_sum = 0;
    std::optional<wall_time> last_success;
    std::uint64_t state_writes = 0;
    std::uint64_t state_write_failures = 0;

    void observe_duration(std::chrono::duration<double> d) noexcept;
};

} // namespace priava_tokend
