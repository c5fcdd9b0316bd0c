#include <priava_tokend/keeper/refresh_stats.hpp>

namespace priava_tokend {

void refresh_stats::observe_duration(std::chrono::duration<double> d) noexcept {
    const double seconds = d.count();
    for (std::size_t i = 0; i < bucket_bounds.size(); ++i) {
        if (seconds <= bucket_bounds[i]) {
            ++buckets[i];
            break;
        }
    }
    ++duration_count;
    duration_sum += seconds;
}

} // namespace priava_tokend
