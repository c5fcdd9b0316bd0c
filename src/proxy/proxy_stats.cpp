#include <priava_tokend/proxy/proxy_stats.hpp>

namespace priava_tokend {

void proxy_stats::waited(std::chrono::steady_clock::duration d) {
    const double seconds = std::chrono::duration<double>(d).count();
    ++waits;
    wait_sum_seconds += seconds;
    for (std::size_t i = 0; i < wait_buckets.size(); ++i) {
        if (seconds <= wait_buckets[i]) {
            ++wait_counts[i];
            return;
        }
    }
}

} // namespace priava_tokend
