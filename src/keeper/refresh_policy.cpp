#include <priava_tokend/keeper/refresh_policy.hpp>

#include <algorithm>
#include <cmath>

namespace priava_tokend {
namespace {

milliseconds scale(milliseconds d, double factor) {
    return milliseconds{
        static_cast<milliseconds::rep>(std::floor(static_cast<double>(d.count()) * factor))};
}

} // namespace

milliseconds refresh_policy::served_for(std::chrono::seconds lifetime) const {
    const milliseconds whole = lifetime;
    return whole > s_.serve_margin ? whole - s_.serve_margin : milliseconds{0};
}

milliseconds refresh_policy::refresh_delay(std::chrono::seconds lifetime, double u) const {
    milliseconds basis = served_for(lifetime);
    if (basis.count() == 0) {
        // Never servable (lifetime within the margin): still refresh on the lifetime's schedule.
        basis = lifetime;
    }
    const milliseconds delay =
        scale(basis, s_.at_lifetime_fraction) - scale(basis, s_.jitter_fraction * u);
    return std::max(delay, s_.min_backoff);
}

milliseconds refresh_policy::backoff(unsigned failures, double u) const {
    milliseconds ceiling = s_.min_backoff;
    for (unsigned i = 1; i < failures && ceiling < s_.max_backoff; ++i) {
        ceiling *= 2;
    }
    ceiling = std::min(ceiling, s_.max_backoff);
    return s_.min_backoff + scale(ceiling - s_.min_backoff, u);
}

milliseconds refresh_policy::retry_delay(unsigned failures, double u,
                                         std::optional<wall_time> retry_after,
                                         wall_time now) const {
    const milliseconds wait = backoff(failures, u);
    if (!retry_after || *retry_after <= now) {
        return wait;
    }
    const auto asked = std::chrono::ceil<milliseconds>(*retry_after - now);
    return std::max(wait, std::min<milliseconds>(asked, rate_limit_window));
}

} // namespace priava_tokend
