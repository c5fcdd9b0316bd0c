#include <priava_tokend/keeper/refresh_policy.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono;

config::refresh_section defaults() {
    return {};
}

TEST(RefreshPolicy, RefreshesAtThreeQuartersOfTheServedLifetimeWithoutJitter) {
    const refresh_policy p{defaults()};
    // (21600 s - 60 s) * 0.75 = 16155 s
    EXPECT_EQ(p.refresh_delay(6h, 0.0), 16155s);
}

TEST(RefreshPolicy, JitterOnlyMakesTheRefreshEarlier) {
    const refresh_policy p{defaults()};
    // minus up to 5 % of 21540 s = 1077 s
    EXPECT_EQ(p.refresh_delay(6h, 0.5), 16155s - 538500ms);
    EXPECT_GT(p.refresh_delay(6h, 0.999), 16155s - 1077s);
    EXPECT_LE(p.refresh_delay(6h, 0.999), p.refresh_delay(6h, 0.0));
}

TEST(RefreshPolicy, ShortLifetimesRefreshBeforeTheServeMargin) {
    auto s = defaults();
    s.serve_margin = 1s;
    s.min_backoff = 100ms;
    s.jitter_fraction = 0;
    const refresh_policy p{s};
    EXPECT_EQ(p.refresh_delay(4s, 0.0), 2250ms); // 0.75 * (4 s - 1 s)
    EXPECT_EQ(p.served_for(4s), 3s);
}

TEST(RefreshPolicy, NeverRefreshesSoonerThanTheMinimumBackoff) {
    const refresh_policy p{defaults()};
    EXPECT_EQ(p.refresh_delay(1s, 0.0), 1s);
    EXPECT_EQ(p.refresh_delay(30s, 0.0), 22500ms) << "lifetime inside the margin: plain fraction";
}

TEST(RefreshPolicy, BackoffDoublesItsCeilingUpToTheMaximum) {
    auto s = defaults();
    s.min_backoff = 1s;
    s.max_backoff = 10s;
    const refresh_policy p{s};
    const double top = 0.999999;
    EXPECT_EQ(p.backoff(1, 0.0), 1s);
    EXPECT_EQ(p.backoff(1, top), 1s);
    EXPECT_NEAR(duration<double>(p.backoff(2, top)).count(), 2.0, 0.01);
    EXPECT_NEAR(duration<double>(p.backoff(3, top)).count(), 4.0, 0.01);
    EXPECT_NEAR(duration<double>(p.backoff(4, top)).count(), 8.0, 0.01);
    EXPECT_NEAR(duration<double>(p.backoff(5, top)).count(), 10.0, 0.01);
    EXPECT_NEAR(duration<double>(p.backoff(500, top)).count(), 10.0, 0.01);
}

TEST(RefreshPolicy, BackoffIsSpreadOverItsWholeRange) {
    auto s = defaults();
    s.min_backoff = 1s;
    s.max_backoff = 300s;
    const refresh_policy p{s};
    EXPECT_EQ(p.backoff(10, 0.0), 1s);
    EXPECT_EQ(p.backoff(10, 0.5), 1s + 149500ms);
}

TEST(RefreshPolicy, RateLimitWaitsForTheLaterOfBackoffAndRetryAfter) {
    const refresh_policy p{defaults()};
    const wall_time now = sys_days{2026y / November / 25};
    EXPECT_EQ(p.retry_delay(1, 0.0, now + 90s, now), 90s);
    EXPECT_EQ(p.retry_delay(1, 0.0, now + 500ms, now), 1s);
    EXPECT_EQ(p.retry_delay(1, 0.0, now - 10s, now), 1s);
    EXPECT_EQ(p.retry_delay(1, 0.0, std::nullopt, now), 1s);
}

TEST(RefreshPolicy, RetryAfterBeyondTheRateWindowIsCapped) {
    const refresh_policy p{defaults()};
    const wall_time now = sys_days{2026y / November / 25};
    EXPECT_EQ(p.retry_delay(1, 0.0, now + 10h, now), 5min);
}

} // namespace
} // namespace priava_tokend
