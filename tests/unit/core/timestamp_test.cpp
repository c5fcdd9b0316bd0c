#include <priava_tokend/core/timestamp.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono;

constexpr auto reference = sys_days{2026y / November / 25} + 22h + 5min + 33s;

TEST(Timestamp, FormatsRfc3339Utc) {
    EXPECT_EQ(format_rfc3339(reference), "2026-11-25T22:05:33Z");
    EXPECT_EQ(format_rfc3339(reference + 999ms), "2026-11-25T22:05:33Z");
}

TEST(Timestamp, ParsesRfc3339WithZones) {
    EXPECT_EQ(parse_rfc3339("2026-11-25T22:05:33Z"), reference);
    EXPECT_EQ(parse_rfc3339("2026-11-26T09:05:33+11:00"), reference);
    EXPECT_EQ(parse_rfc3339("2026-11-25T21:05:33-01:00"), reference);
    EXPECT_EQ(parse_rfc3339("2026-11-25T22:05:33.250Z"), reference + 250ms);
}

TEST(Timestamp, RefusesBrokenRfc3339) {
    for (const char* bad : {"", "2026-11-25", "2026-11-25T22:05:33", "2026-13-01T00:00:00Z",
                            "2026-02-30T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T22:05:33+1",
                            "2026-11-25T22:05:33.Z", "2026/11/25T22:05:33Z"}) {
        EXPECT_FALSE(parse_rfc3339(bad)) << bad;
    }
}

TEST(Timestamp, ReadsPriavaRetryAfterWithoutZoneAsUtc) {
    EXPECT_EQ(parse_priava_retry_after("2026-11-25T22:05:33"), reference);
    EXPECT_EQ(parse_priava_retry_after("2026-11-25 22:05:33"), reference);
    EXPECT_EQ(parse_priava_retry_after(" 2026-11-25T22:05:33.5 "), reference + 500ms);
    EXPECT_EQ(parse_priava_retry_after("2026-11-25T22:05:33Z"), reference);
    EXPECT_FALSE(parse_priava_retry_after("in 5 minutes"));
}

TEST(Timestamp, UnixSeconds) {
    EXPECT_DOUBLE_EQ(unix_seconds(sys_days{1970y / January / 2}), 86400.0);
}

// Found by the token_response fuzzer: a year far outside the clock's range overflowed the
// conversion to nanoseconds.
TEST(Timestamp, RefusesYearsTheClockCannotHold) {
    EXPECT_EQ(parse_priava_retry_after("1013-11-25T12:03:00"), std::nullopt);
    EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59Z"), std::nullopt);
    EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59Z"), std::nullopt);
    EXPECT_NE(parse_rfc3339("2200-12-31T23:59:59Z"), std::nullopt);
}

} // namespace
} // namespace priava_tokend
