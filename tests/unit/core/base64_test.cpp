#include <priava_tokend/core/base64.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>

namespace priava_tokend {
namespace {

using namespace std::string_literals;

/// RFC 4648 §10.
constexpr std::pair<std::string_view, std::string_view> rfc4648_vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(Base64, EncodesTheRfc4648TestVectors) {
    for (const auto& [plain, encoded] : rfc4648_vectors) {
        EXPECT_EQ(encode_base64(plain), encoded) << "'" << plain << "'";
    }
}

TEST(Base64, DecodesTheRfc4648TestVectors) {
    for (const auto& [plain, encoded] : rfc4648_vectors) {
        const auto decoded = decode_base64(encoded);
        ASSERT_TRUE(decoded) << encoded;
        EXPECT_EQ(*decoded, plain) << encoded;
    }
}

TEST(Base64, TheEmptyStringRoundTrips) {
    EXPECT_EQ(encode_base64(""), "");
    const auto decoded = decode_base64("");
    ASSERT_TRUE(decoded);
    EXPECT_TRUE(decoded->empty());
}

TEST(Base64, EveryByteValueRoundTrips) {
    std::string all;
    for (int b = 0; b < 256; ++b) {
        all.push_back(static_cast<char>(b));
    }
    for (std::size_t length = 0; length <= all.size(); ++length) {
        const std::string bytes = all.substr(all.size() - length);
        const std::string encoded = encode_base64(bytes);
        EXPECT_EQ(encoded.size() % 4, 0u) << length;
        const auto decoded = decode_base64(encoded);
        ASSERT_TRUE(decoded) << length;
        EXPECT_EQ(*decoded, bytes) << length;
    }
}

TEST(Base64, UsesTheStandardAlphabetWithPlusAndSlash) {
    EXPECT_EQ(encode_base64("\xfb\xff"s), "+/8=");
    EXPECT_EQ(decode_base64("+/8="), "\xfb\xff"s);
    EXPECT_FALSE(decode_base64("-_8=")) << "the URL-safe alphabet is another encoding";
}

TEST(Base64, KeepsZeroBytesInsideAndAtTheEnd) {
    const std::string bytes("\0a\0\0"s);
    EXPECT_EQ(encode_base64(bytes), "AGEAAA==");
    EXPECT_EQ(decode_base64("AGEAAA=="), bytes);
    EXPECT_EQ(decode_base64("AA=="), "\0"s);
    EXPECT_EQ(decode_base64("AAA="), "\0\0"s);
    EXPECT_EQ(decode_base64("AAAA"), "\0\0\0"s);
}

TEST(Base64, RefusesPaddingAnywhereButTheEnd) {
    for (const std::string_view text : {"QQ=A", "====", "A===", "=Zg=", "Zg==Zg==", "Z=g="}) {
        EXPECT_FALSE(decode_base64(text)) << text;
    }
}

TEST(Base64, RefusesALengthThatIsNotAMultipleOfFour) {
    for (const std::string_view text : {"Z", "Zg", "Zg=", "Zm9vY", "Zm9vYg=", "Zm9vYg==="}) {
        EXPECT_FALSE(decode_base64(text)) << text;
    }
}

TEST(Base64, RefusesWhitespaceAnywhere) {
    for (const std::string_view text :
         {"Zm 9", " Zg=", "Zg= ", "Zm9v\tYg=", "Zm9v\nYm9v", "Zm9vYg==\n\n\n\n", "\r\nZm"}) {
        EXPECT_FALSE(decode_base64(text)) << text;
    }
}

TEST(Base64, RefusesCharactersOutsideTheAlphabet) {
    for (const std::string_view text : {"Zm9*", "Zm.v", "Zm9v\x80YmE"}) {
        EXPECT_FALSE(decode_base64(text)) << text;
    }
    EXPECT_FALSE(decode_base64("Zm\0v"s));
}

} // namespace
} // namespace priava_tokend
