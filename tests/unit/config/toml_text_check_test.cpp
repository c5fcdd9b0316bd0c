#include <priava_tokend/config/toml_text_check.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

constexpr std::string_view non_ascii_outside =
    "a non-ASCII character outside a quoted one-line string or a comment";

TEST(TomlTextCheck, AllowsNonAsciiInOneLineStringsAndComments) {
    EXPECT_EQ(check_toml_text("# Zürich\n"
                              "[state]\n"
                              "path = \"/var/lib/tökend/state.json\" # é\n"
                              "other = 'Å \\'\n"
                              "escaped = \"a \\\" ü\"\n"
                              "list = [\"ä\", 'ö', { k = \"ü\" }]\n"
                              "\"quoted ß\" = 1\n"),
              std::nullopt);
}

TEST(TomlTextCheck, AllowsALeadingByteOrderMark) {
    EXPECT_EQ(check_toml_text("\xEF\xBB\xBF[state]\npath = \"x\"\n"), std::nullopt);
    const auto problem = check_toml_text("\xEF\xBB\xBF\xc3\x85 = 1\n");
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->line, 1u);
    EXPECT_EQ(problem->description, non_ascii_outside);
}

TEST(TomlTextCheck, FindsNonAsciiInABareKey) {
    // The config fuzzer's first input.
    const auto problem = check_toml_text("[priava]\nTok = \"EU\"\nclie\xc3\x85pken_url = 1\n");
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->line, 3u);
    EXPECT_EQ(problem->column, 5u);
    EXPECT_EQ(problem->description, non_ascii_outside);
}

TEST(TomlTextCheck, FindsNonAsciiAfterABareValue) {
    // The config fuzzer's second input: a quote inside a bare value does not open a string.
    const auto problem =
        check_toml_text("[p]\nTok = \"EU\xef\xbb\xbf\"\nopfk =5\"EUe\xc3\x85plllo00]\n");
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->line, 3u);
    EXPECT_EQ(check_toml_text("a = 1 \xc2\xa0\n")->line, 1u);
    EXPECT_EQ(check_toml_text("a = 5.\"\xc3\x85\"\n")->line, 1u);
    EXPECT_EQ(check_toml_text("a = \"x\"\xc3\x85\n")->line, 1u);
}

TEST(TomlTextCheck, AOneLineStringEndsAtTheLineEnd) {
    const auto problem = check_toml_text("a = \"x\nb\xc3\x85 = 1\n");
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->line, 1u); // the unterminated string is the first error
    EXPECT_NE(problem->description, non_ascii_outside);
}

TEST(TomlTextCheck, NamesAsciiSyntaxErrorsAsTomlDoes) {
    const auto problem = check_toml_text("[state]\npath = \n");
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->line, 2u);
    EXPECT_NE(problem->description, non_ascii_outside);
    EXPECT_EQ(problem->description.find('@'), std::string::npos);
}

TEST(TomlTextCheck, RefusesNonAsciiInMultiLineStrings) {
    const auto basic = check_toml_text("a = \"\"\"\nline\n\\\xc3\x85\"\"\"\n");
    ASSERT_TRUE(basic);
    EXPECT_EQ(basic->line, 3u);
    EXPECT_EQ(basic->column, 2u);
    const auto literal = check_toml_text("a = '''\n\n\xc3\xa9'''\n");
    ASSERT_TRUE(literal);
    EXPECT_EQ(literal->line, 3u);
    EXPECT_EQ(check_toml_text("a = \"\"\"x \\\n  y\"\"\"\nb = \"\xc3\xa9\"\n"), std::nullopt);
}

} // namespace
} // namespace priava_tokend
