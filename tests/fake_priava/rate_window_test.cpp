#include "rate_window.hpp"

#include <gtest/gtest.h>

namespace priava_tokend::testing {
namespace {

using namespace std::chrono_literals;
using time_point = rate_window::clock::time_point;

/// A moment `offset` into the window that starts at 300 s × 1000 after the epoch.
time_point at(std::chrono::milliseconds offset) {
    return time_point{std::chrono::duration_cast<rate_window::clock::duration>(300'000s + offset)};
}

TEST(RateWindow, AdmitsTheLimitThenRefusesUntilTheWindowEnds) {
    rate_window limit{3, 300s};
    EXPECT_FALSE(limit.admit(at(0ms)));
    EXPECT_FALSE(limit.admit(at(10s)));
    EXPECT_FALSE(limit.admit(at(299s)));
    const auto refused = limit.admit(at(299'999ms));
    ASSERT_TRUE(refused);
    EXPECT_EQ(*refused, at(300s));
    EXPECT_EQ(limit.in_window(at(299s)), 3u) << "a refused request is not counted";
}

TEST(RateWindow, WindowsAreFixedAndAlignedToTheEpochNotToTheFirstRequest) {
    rate_window limit{2, 300s};
    EXPECT_FALSE(limit.admit(at(299s)));
    EXPECT_FALSE(limit.admit(at(299'500ms)));
    EXPECT_TRUE(limit.admit(at(299'900ms)));
    // One second later a new window has begun, although the first request is one second old.
    EXPECT_FALSE(limit.admit(at(300s)));
    EXPECT_FALSE(limit.admit(at(301s)));
    EXPECT_EQ(limit.in_window(at(301s)), 2u);
    EXPECT_EQ(limit.in_window(at(600s)), 0u);
    EXPECT_EQ(limit.most_in_one_window(), 2u);
}

TEST(RateWindow, LimitZeroAdmitsEverythingAndStillCounts) {
    rate_window limit{0, 1s};
    for (int i = 0; i < 1000; ++i) {
        EXPECT_FALSE(limit.admit(at(std::chrono::milliseconds{i % 1000})));
    }
    EXPECT_EQ(limit.most_in_one_window(), 1000u);
}

TEST(RateWindow, NewLimitsApplyToTheCurrentWindowsCount) {
    rate_window limit{5, 300s};
    EXPECT_FALSE(limit.admit(at(1s)));
    EXPECT_FALSE(limit.admit(at(2s)));
    limit.set(2, 300s);
    EXPECT_TRUE(limit.admit(at(3s)));
    limit.set(2, 10s);
    EXPECT_FALSE(limit.admit(at(11s))) << "a 10 s window began at 10 s";
}

TEST(RateWindow, RejectsAnEmptyWindow) {
    EXPECT_THROW(rate_window(1, 0ms), std::invalid_argument);
    rate_window limit{1, 1s};
    EXPECT_THROW(limit.set(1, -1ms), std::invalid_argument);
}

} // namespace
} // namespace priava_tokend::testing
