#include <priava_tokend/priava/form_encoding.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

TEST(FormEncoding, KeepsUnreservedCharacters) {
    EXPECT_EQ(form_urlencode("AZaz09*-._"), "AZaz09*-._");
}

TEST(FormEncoding, EscapesPlusSlashEqualsAndFriends) {
    EXPECT_EQ(form_urlencode("a+b/c=d"), "a%2Bb%2Fc%3Dd");
    EXPECT_EQ(form_urlencode("https://my.app.com/cb?x=1&y"),
              "https%3A%2F%2Fmy.app.com%2Fcb%3Fx%3D1%26y");
    EXPECT_EQ(form_urlencode("a b~"), "a+b%7E");
    EXPECT_EQ(form_urlencode("\xC3\xA9"), "%C3%A9");
}

TEST(FormEncoding, AppendsFieldsWithAmpersands) {
    std::string body;
    append_form_field(body, "grant_type", "refresh_token");
    append_form_field(body, "refresh_token", "r+/=");
    EXPECT_EQ(body, "grant_type=refresh_token&refresh_token=r%2B%2F%3D");
}

TEST(FormEncoding, ParsesWhatItEncodes) {
    std::string body;
    append_form_field(body, "code", "x+y/z= w");
    append_form_field(body, "empty", "");
    const auto fields = parse_form(body);
    ASSERT_TRUE(fields);
    ASSERT_EQ(fields->size(), 2u);
    EXPECT_EQ((*fields)[0], (std::pair<std::string, std::string>{"code", "x+y/z= w"}));
    EXPECT_EQ((*fields)[1], (std::pair<std::string, std::string>{"empty", ""}));
}

TEST(FormEncoding, AcceptsLowerCaseHex) {
    const auto fields = parse_form("a=%2f");
    ASSERT_TRUE(fields);
    EXPECT_EQ((*fields)[0].second, "/");
}

TEST(FormEncoding, RefusesUnencodedReservedCharacters) {
    for (const char* bad : {"code=a/b", "code=a=b", "code=a b", "code=a:b", "code", "", "code=%2",
                            "code=%zz", "a=1&&b=2", "code=%"}) {
        EXPECT_FALSE(parse_form(bad)) << bad;
    }
}

TEST(FormEncoding, ErrorNamesThePositionNotTheData) {
    const auto fields = parse_form("code=secret/part");
    ASSERT_FALSE(fields);
    EXPECT_EQ(fields.error().message.find("secret"), std::string::npos);
    EXPECT_NE(fields.error().message.find("byte 11"), std::string::npos);
}

} // namespace
} // namespace priava_tokend
