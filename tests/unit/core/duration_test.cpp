#include <priava_tokend/core/duration.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(Duration, ParsesEachUnit) {
    EXPECT_EQ(parse_duration("100ms"), milliseconds{100});
    EXPECT_EQ(parse_duration("90s"), seconds{90});
    EXPECT_EQ(parse_duration("5m"), minutes{5});
    EXPECT_EQ(parse_duration("1h"), hours{1});
    EXPECT_EQ(parse_duration("0s"), milliseconds{0});
}

TEST(Duration, RefusesAnythingButDigitsAndOneUnit) {
    for (const char* bad : {"", "s", "10", "1.5s", "-1s", "+1s", " 1s", "1s ", "1 s", "1sec", "1d",
                            "1S", "1h30m", "99999999999999999999s"}) {
        EXPECT_FALSE(parse_duration(bad)) << bad;
    }
}

TEST(Duration, RefusesValuesThatOverflow) {
    EXPECT_FALSE(parse_duration("9223372036854775807h"));
    EXPECT_TRUE(parse_duration("9223372036854775807ms"));
}

TEST(Duration, FormatsWithTheLargestExactUnit) {
    EXPECT_EQ(format_duration(milliseconds{1500}), "1500ms");
    EXPECT_EQ(format_duration(seconds{90}), "90s");
    EXPECT_EQ(format_duration(minutes{5}), "5m");
    EXPECT_EQ(format_duration(hours{6}), "6h");
    EXPECT_EQ(format_duration(milliseconds{0}), "0s");
}

TEST(Duration, DescribesSecondsForPeople) {
    EXPECT_EQ(describe_seconds(seconds{42}), "42s");
    EXPECT_EQ(describe_seconds(seconds{125}), "2m 5s");
    EXPECT_EQ(describe_seconds(seconds{21600}), "6h 0m 0s");
    EXPECT_EQ(describe_seconds(seconds{-5}), "-5s");
}

} // namespace
} // namespace priava_tokend
