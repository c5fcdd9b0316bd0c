#include <priava_tokend/priava/retry_after.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

const wall_time now = sys_days{2026y / November / 25} + 12h;

TEST(RetryAfter, PriavasBodyFieldIsADateReadAsUtc) {
    EXPECT_EQ(priava_retry_after(
                  R"({"error":"x","limits":"450","retry-after":"2026-11-25T12:03:00"})", {}, now),
              now + 3min);
    EXPECT_EQ(priava_retry_after(R"({"retry-after":"2026-11-25 12:00:01.500"})", {}, now),
              now + 1500ms);
}

TEST(RetryAfter, OtherSpellingsOfTheFieldAreRead) {
    EXPECT_EQ(priava_retry_after(R"({"retry_after":"2026-11-25T12:01:00"})", {}, now), now + 1min);
    EXPECT_EQ(priava_retry_after(R"({"retryAfter":"2026-11-25T12:02:00"})", {}, now), now + 2min);
}

TEST(RetryAfter, TheBodyWinsOverTheHeader) {
    EXPECT_EQ(priava_retry_after(R"({"retry-after":"2026-11-25T12:03:00"})", "5", now), now + 3min);
}

TEST(RetryAfter, TheHeaderInSecondsWhenTheBodyHasNoReadableField) {
    EXPECT_EQ(priava_retry_after("Too Many Requests", "42", now), now + 42s);
    EXPECT_EQ(priava_retry_after(R"({"retry-after":"soon"})", "7", now), now + 7s);
    EXPECT_EQ(priava_retry_after(R"({"retry-after":12})", "0", now), now);
}

TEST(RetryAfter, NothingWhenNeitherCanBeRead) {
    EXPECT_FALSE(priava_retry_after(R"({"retry-after":"tomorrow"})", "soon", now));
    EXPECT_FALSE(priava_retry_after("", "", now));
    EXPECT_FALSE(priava_retry_after("{}", "-5", now));
    EXPECT_FALSE(priava_retry_after("{}", "Wed, 25 Nov 2026 12:03:00 GMT", now))
        << "an HTTP date in the header is not read: Priava sends the body field";
}

} // namespace
} // namespace priava_tokend
