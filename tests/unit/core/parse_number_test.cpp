#include <priava_tokend/core/parse_number.hpp>

#include <gtest/gtest.h>

#include <cstdint>

namespace priava_tokend {
namespace {

TEST(ParseNumber, ReadsAWholeNumberAndNothingElse) {
    EXPECT_EQ(parse_number<int>("42"), 42);
    EXPECT_EQ(parse_number<int>("-7"), -7);
    EXPECT_EQ(parse_number<unsigned>("-7"), std::nullopt);
    for (const char* bad : {"", " 1", "1 ", "1x", "+1", "0x10"}) {
        EXPECT_EQ(parse_number<int>(bad), std::nullopt) << bad;
    }
    EXPECT_EQ(parse_number<std::uint8_t>("256"), std::nullopt);
}

TEST(ParseNumber, ReadsOctalWhenAsked) {
    EXPECT_EQ(parse_number<unsigned>("0660", 8), 0660u);
    EXPECT_EQ(parse_number<unsigned>("0968", 8), std::nullopt);
}

TEST(ParseNumber, ReadsFloatingPointInDecimal) {
    EXPECT_EQ(parse_number<double>("0.75"), 0.75);
    EXPECT_EQ(parse_number<double>("1e-3"), 0.001);
    for (const char* bad : {"", ".", "0.75s", " 0.5", "nan(", "0,5"}) {
        EXPECT_EQ(parse_number<double>(bad), std::nullopt) << bad;
    }
}

} // namespace
} // namespace priava_tokend
