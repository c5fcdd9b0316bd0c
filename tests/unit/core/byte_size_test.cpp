#include <priava_tokend/core/byte_size.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

TEST(ByteSize, ReadsEveryUnit) {
    EXPECT_EQ(parse_byte_size("100B"), 100u);
    EXPECT_EQ(parse_byte_size("512KiB"), 512u * 1024);
    EXPECT_EQ(parse_byte_size("8MiB"), 8u * 1024 * 1024);
    EXPECT_EQ(parse_byte_size("1GiB"), 1024u * 1024 * 1024);
}

TEST(ByteSize, RefusesWhatIsNotASize) {
    for (const char* bad : {"", "8", "MiB", "8 MiB", "8mib", "8MB", "-1B", "1.5MiB", "8MiBs",
                            "99999999999999999999GiB"}) {
        EXPECT_FALSE(parse_byte_size(bad)) << bad;
    }
}

TEST(ByteSize, WritesTheShortestExactForm) {
    EXPECT_EQ(format_byte_size(8u * 1024 * 1024), "8MiB");
    EXPECT_EQ(format_byte_size(1536), "1536B");
    EXPECT_EQ(format_byte_size(1500), "1500B");
    EXPECT_EQ(format_byte_size(2048), "2KiB");
}

} // namespace
} // namespace priava_tokend
