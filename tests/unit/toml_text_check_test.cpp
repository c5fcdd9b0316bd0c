#include <priava_tokend/toml_text_check.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

TEST(TomlTextCheck, AllowsNonAsciiInOneLineStringsAndComments) {
    EXPECT_EQ(line_with_unsafe_non_ascii("# Zürich\n"
                                         "[state]\n"
                                         "path = \"/var/lib/tökend/state.json\" # é\n"
                                         "other = 'Å \\'\n"
                                         "escaped = \"a \\\" ü\"\n"),
              std::nullopt);
}

TEST(TomlTextCheck, FindsNonAsciiOutsideStrings) {
    // The config fuzzer's input: a bare key with a non-ASCII letter.
    EXPECT_EQ(line_with_unsafe_non_ascii("[priava]\nTok = \"EU\"\nclie\xc3\x85pken_url = 1\n"), 3u);
    EXPECT_EQ(line_with_unsafe_non_ascii("a = 1 \xc2\xa0\n"), 1u);
    // A one-line string ends at the line's end, even unterminated.
    EXPECT_EQ(line_with_unsafe_non_ascii("a = \"x\nb\xc3\x85 = 1\n"), 2u);
}

TEST(TomlTextCheck, RefusesNonAsciiInMultiLineStrings) {
    EXPECT_EQ(line_with_unsafe_non_ascii("a = \"\"\"\nline\n\\\xc3\x85\"\"\"\n"), 3u);
    EXPECT_EQ(line_with_unsafe_non_ascii("a = '''\n\n\xc3\xa9'''\n"), 3u);
    EXPECT_EQ(line_with_unsafe_non_ascii("a = \"\"\"x \\\n  y\"\"\"\nb = \"\xc3\xa9\"\n"),
              std::nullopt);
}

} // namespace
} // namespace priava_tokend
