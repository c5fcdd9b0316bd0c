#include <priava_tokend/cli/command_line.hpp>

#include <gtest/gtest.h>

#include <vector>

namespace priava_tokend {
namespace {

parsed_command_line parse(std::vector<const char*> args) {
    args.insert(args.begin(), "priava-tokend");
    return parse_command_line(args);
}

TEST(Cli, RunTakesAConfig) {
    const auto p = parse({"run", "--config", "/etc/x.toml"});
    ASSERT_TRUE(p.line) << p.text;
    EXPECT_EQ(p.line->cmd, command::run);
    EXPECT_EQ(p.line->config, "/etc/x.toml");
    EXPECT_EQ(parse({"run", "--config=/y.toml"}).line->config, "/y.toml");
}

TEST(Cli, BootstrapNeedsExactlyOneCodeSource) {
    EXPECT_TRUE(parse({"bootstrap", "--code-file", "/c"}).line);
    EXPECT_TRUE(parse({"bootstrap", "--code", "-", "--force"}).line->force);
    EXPECT_EQ(parse({"bootstrap"}).exit, 64);
    EXPECT_EQ(parse({"bootstrap", "--code-file", "/c", "--code", "-"}).exit, 64);
}

TEST(Cli, CodeIsNeverTakenFromTheCommandLine) {
    const auto p = parse({"bootstrap", "--code", "abc123"});
    EXPECT_FALSE(p.line);
    EXPECT_EQ(p.exit, 64);
    EXPECT_EQ(p.text.find("abc123"), std::string::npos);
    EXPECT_NE(p.text.find("--code-file"), std::string::npos);
}

TEST(Cli, TokenOptions) {
    const auto p = parse({"token", "--socket", "/s", "--min-ttl", "600", "--format", "header"});
    ASSERT_TRUE(p.line) << p.text;
    EXPECT_EQ(p.line->socket, "/s");
    EXPECT_EQ(p.line->min_ttl, std::chrono::seconds{600});
    EXPECT_EQ(p.line->format, token_format::header);
    EXPECT_EQ(parse({"token", "--format", "xml"}).exit, 64);
    EXPECT_EQ(parse({"token", "--min-ttl", "-5"}).exit, 64);
}

TEST(Cli, OptionsBelongToTheirCommand) {
    EXPECT_EQ(parse({"status", "--force"}).exit, 64);
    EXPECT_EQ(parse({"run", "--socket", "/s"}).exit, 64);
    EXPECT_TRUE(parse({"status", "--json"}).line->json);
    EXPECT_EQ(parse({"healthcheck", "--json"}).exit, 64);
}

TEST(Cli, HelpAndVersionWorkEverywhere) {
    EXPECT_EQ(parse({"--help"}).exit, 0);
    EXPECT_NE(parse({"--help"}).text.find("check-config"), std::string::npos);
    EXPECT_NE(parse({"token", "--help"}).text.find("--min-ttl"), std::string::npos);
    EXPECT_NE(parse({"status", "--version"}).text.find("priava-tokend 0."), std::string::npos);
    EXPECT_EQ(parse({"bootstrap", "--code", "x", "--help"}).exit, 0);
}

TEST(Cli, MissingOrUnknownCommandIsAUsageError) {
    EXPECT_EQ(parse({}).exit, 64);
    EXPECT_EQ(parse({"serve"}).exit, 64);
    EXPECT_EQ(parse({"run", "--config"}).exit, 64);
}

} // namespace
} // namespace priava_tokend
