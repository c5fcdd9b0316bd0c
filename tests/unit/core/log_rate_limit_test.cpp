#include <priava_tokend/core/log_rate_limit.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using clock = log_rate_limit::clock;

TEST(LogRateLimit, LetsABurstThroughThenCountsTheRestUntilTheWindowEnds) {
    log_rate_limit limit(3, 60s);
    const clock::time_point t0{};
    std::size_t held_back = 99;
    for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(limit.admit(t0 + 1s, held_back));
        EXPECT_EQ(held_back, 0u);
    }
    for (int i = 0; i < 500; ++i) {
        EXPECT_FALSE(limit.admit(t0 + 2s, held_back));
    }
    EXPECT_FALSE(limit.admit(t0 + 60s, held_back)) << "the window began at the first line";
    EXPECT_TRUE(limit.admit(t0 + 61s, held_back));
    EXPECT_EQ(held_back, 501u) << "the next line tells how many were held back";
    EXPECT_EQ(limit.take_held_back(), 0u);
}

TEST(LogRateLimit, TakesWhatWasHeldBackAtTheEnd) {
    log_rate_limit limit(1, 60s);
    std::size_t held_back = 0;
    EXPECT_TRUE(limit.admit(clock::time_point{}, held_back));
    EXPECT_FALSE(limit.admit(clock::time_point{}, held_back));
    EXPECT_FALSE(limit.admit(clock::time_point{}, held_back));
    EXPECT_EQ(limit.take_held_back(), 2u);
    EXPECT_EQ(limit.take_held_back(), 0u);
}

} // namespace
} // namespace priava_tokend
