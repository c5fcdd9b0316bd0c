#include "config_fixture.hpp"

#include <priava_tokend/config/config.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using namespace testing;

TEST(Config, MinimalFileGetsDocumentedDefaults) {
    const auto c = parse(minimal);
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_EQ(c.values.priava.region, region::eu);
    EXPECT_EQ(c.values.priava.client_id, "client-1");
    EXPECT_DOUBLE_EQ(c.values.refresh.at_lifetime_fraction, 0.75);
    EXPECT_DOUBLE_EQ(c.values.refresh.jitter_fraction, 0.05);
    EXPECT_EQ(c.values.refresh.min_backoff, 1s);
    EXPECT_EQ(c.values.refresh.max_backoff, 5min);
    EXPECT_EQ(c.values.refresh.request_timeout, 30s);
    EXPECT_EQ(c.values.refresh.serve_margin, 60s);
    EXPECT_EQ(c.values.state.path, "/var/lib/priava-tokend/state.json");
    EXPECT_EQ(c.values.listen.socket, "/run/priava-tokend/token.sock");
    EXPECT_EQ(c.values.listen.mode, 0660u);
    EXPECT_EQ(c.values.listen.max_connections, 1024u);
    EXPECT_EQ(c.values.log.format, log_format::text);
    EXPECT_EQ(c.values.log.level, log_level::info);
}

TEST(Config, ReadsEverySection) {
    const auto c = parse(std::string(minimal) + R"(
client_secret_file = "/run/secret"
ca_file = "/etc/ca.pem"
[bootstrap]
code_file = "/run/secrets/priava_code"
[refresh]
at_lifetime_fraction = 0.5
jitter_fraction = 0
min_backoff = "100ms"
max_backoff = "1h"
request_timeout = "5s"
serve_margin = "0s"
[state]
path = "/tmp/s.json"
[listen]
socket = "/tmp/t.sock"
mode = "0600"
group = "0"
allow_uids = [0, 1000]
allow_gids = [100]
max_connections = 16
[log]
format = "json"
level = "debug"
)");
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    const auto& v = c.values;
    EXPECT_EQ(v.priava.client_secret_file, "/run/secret");
    EXPECT_EQ(v.priava.ca_file, "/etc/ca.pem");
    EXPECT_EQ(v.bootstrap.code_file, "/run/secrets/priava_code");
    EXPECT_DOUBLE_EQ(v.refresh.at_lifetime_fraction, 0.5);
    EXPECT_DOUBLE_EQ(v.refresh.jitter_fraction, 0.0);
    EXPECT_EQ(v.refresh.min_backoff, 100ms);
    EXPECT_EQ(v.refresh.max_backoff, 1h);
    EXPECT_EQ(v.refresh.request_timeout, 5s);
    EXPECT_EQ(v.refresh.serve_margin, 0s);
    EXPECT_EQ(v.state.path, "/tmp/s.json");
    EXPECT_EQ(v.listen.mode, 0600u);
    EXPECT_EQ(v.listen.group, gid_t{0});
    EXPECT_EQ(v.listen.allow_uids, (std::vector<uid_t>{0, 1000}));
    EXPECT_EQ(v.listen.allow_gids, (std::vector<gid_t>{100}));
    EXPECT_EQ(v.listen.max_connections, 16u);
    EXPECT_EQ(v.log.format, log_format::json);
    EXPECT_EQ(v.log.level, log_level::debug);
}

TEST(Config, RequiresTheCredentialKeys) {
    const auto c = parse("");
    for (const char* key :
         {"priava.token_url", "priava.region", "priava.client_id", "priava.redirect_uri"}) {
        const auto* p = find_problem(c, key);
        ASSERT_NE(p, nullptr) << key;
        EXPECT_EQ(p->message, "is required");
        EXPECT_FALSE(p->fix.empty());
    }
}

TEST(Config, EnvironmentAloneConfiguresTheDaemon) {
    const environment env{{{"PRIAVA_TOKEND_PRIAVA_TOKEN_URL", "https://h/t"},
                           {"PRIAVA_TOKEND_PRIAVA_REGION", "US"},
                           {"PRIAVA_TOKEND_PRIAVA_CLIENT_ID", "id"},
                           {"PRIAVA_TOKEND_PRIAVA_REDIRECT_URI", "https://cb"},
                           {"PRIAVA_TOKEND_REFRESH_MIN_BACKOFF", "250ms"},
                           {"PRIAVA_TOKEND_REFRESH_AT_LIFETIME_FRACTION", "0.8"},
                           {"PRIAVA_TOKEND_LISTEN_ALLOW_UIDS", "1000, 1001"},
                           {"PRIAVA_TOKEND_LISTEN_MAX_CONNECTIONS", "8"}}};
    const auto c = parse("", env);
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_EQ(c.values.priava.region, region::us);
    EXPECT_EQ(c.values.refresh.min_backoff, 250ms);
    EXPECT_DOUBLE_EQ(c.values.refresh.at_lifetime_fraction, 0.8);
    EXPECT_EQ(c.values.listen.allow_uids, (std::vector<uid_t>{1000, 1001}));
    EXPECT_EQ(c.values.listen.max_connections, 8u);
}

TEST(Config, EnvironmentWinsOverTheFile) {
    const auto c = parse(minimal, environment{{{"PRIAVA_TOKEND_PRIAVA_REGION", "APAC"}}});
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_EQ(c.values.priava.region, region::apac);
}

TEST(Config, BadEnvironmentValueNamesTheVariable) {
    const auto c = parse(minimal, environment{{{"PRIAVA_TOKEND_REFRESH_MAX_BACKOFF", "5 min"}}});
    const auto* p = find_problem(c, "refresh.max_backoff");
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->message.find("PRIAVA_TOKEND_REFRESH_MAX_BACKOFF"), std::string::npos);
}

TEST(Config, AnEmptyEnvironmentOverrideIsAnErrorNotAWiderAllowList) {
    const auto c = parse(std::string(minimal) + "[listen]\nallow_uids = [0]\n",
                         environment{{{"PRIAVA_TOKEND_LISTEN_ALLOW_UIDS", ""},
                                      {"PRIAVA_TOKEND_PRIAVA_REGION", "  "}}});
    const auto* uids = find_problem(c, "PRIAVA_TOKEND_LISTEN_ALLOW_UIDS");
    ASSERT_NE(uids, nullptr) << describe(c);
    EXPECT_EQ(uids->message, "is set but empty");
    EXPECT_NE(uids->fix.find("[] means an empty list"), std::string::npos);
    EXPECT_NE(find_problem(c, "PRIAVA_TOKEND_PRIAVA_REGION"), nullptr) << describe(c);
    EXPECT_EQ(c.values.listen.allow_uids, (std::vector<uid_t>{0})) << "the file's list stays";
    const auto explicit_empty = parse(std::string(minimal) + "[listen]\nallow_uids = [0]\n",
                                      environment{{{"PRIAVA_TOKEND_LISTEN_ALLOW_UIDS", "[]"}}});
    ASSERT_TRUE(explicit_empty.problems.empty()) << describe(explicit_empty);
    EXPECT_TRUE(explicit_empty.values.listen.allow_uids.empty());
}

TEST(Config, UnknownKeysAreErrorsWithASuggestion) {
    const auto c = parse(std::string(minimal) + "[refresh]\nmin_backof = \"1s\"\n[cache]\nx = 1\n");
    const auto* typo = find_problem(c, "refresh.min_backof");
    ASSERT_NE(typo, nullptr);
    EXPECT_NE(typo->message.find("test.toml:8"), std::string::npos) << typo->message;
    EXPECT_EQ(typo->fix, "did you mean refresh.min_backoff?");
    EXPECT_NE(find_problem(c, "cache"), nullptr);
}

TEST(Config, SecretInTheConfigIsRefusedWithoutEchoingIt) {
    const auto c = parse(std::string(minimal) + "client_secret = \"s3cr3t-value\"\n");
    const auto* p = find_problem(c, "priava.client_secret");
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->fix.find("client_secret_file"), std::string::npos);
    EXPECT_EQ(describe(c).find("s3cr3t"), std::string::npos);
}

TEST(Config, UnknownPrefixedVariableIsAnError) {
    const auto c = parse(minimal, environment{{{"PRIAVA_TOKEND_PRIAVA_CLIENT_SECRET", "x"},
                                               {"PRIAVA_TOKEND_SOCKET", "/x"},
                                               {"PRIAVA_TOKEND_VERSION", "1.2"},
                                               {"PRIAVA_TOKEND_REFRESH_MIN_BACKOF", "1s"},
                                               {"PRIAVA_TOKEND_CONFIG", "/y"}}});
    ASSERT_EQ(c.problems.size(), 2u) << describe(c);
    EXPECT_EQ(c.problems[0].key, "PRIAVA_TOKEND_PRIAVA_CLIENT_SECRET");
    EXPECT_NE(c.problems[0].fix.find("PRIAVA_CLIENT_SECRET"), std::string::npos);
    EXPECT_EQ(c.problems[1].key, "PRIAVA_TOKEND_REFRESH_MIN_BACKOF");
}

TEST(Config, WrongTypesNameTheKey) {
    const auto c = parse(std::string(minimal) + R"(
[refresh]
min_backoff = 5
at_lifetime_fraction = "0.75"
[listen]
mode = 660
allow_uids = ["root"]
max_connections = "10"
)");
    for (const char* key : {"refresh.min_backoff", "refresh.at_lifetime_fraction", "listen.mode",
                            "listen.allow_uids", "listen.max_connections"}) {
        EXPECT_NE(find_problem(c, key), nullptr) << key << "\n" << describe(c);
    }
}

TEST(Config, OutOfRangeValuesAreErrors) {
    const auto c = parse(std::string(minimal) + R"(
[refresh]
at_lifetime_fraction = 1.0
jitter_fraction = -0.1
min_backoff = "10s"
max_backoff = "1s"
request_timeout = "0s"
[listen]
mode = "0999"
allow_gids = [-1]
max_connections = 0
[log]
level = "verbose"
)");
    for (const char* key : {"refresh.at_lifetime_fraction", "refresh.jitter_fraction",
                            "refresh.max_backoff", "refresh.request_timeout", "listen.mode",
                            "listen.allow_gids", "listen.max_connections", "log.level"}) {
        EXPECT_NE(find_problem(c, key), nullptr) << key << "\n" << describe(c);
    }
}

TEST(Config, EveryDurationHasAnUpperBound) {
    const auto c = parse(std::string(minimal) + R"(
[refresh]
min_backoff = "2h"
max_backoff = "9223372036854775807ms"
request_timeout = "11m"
serve_margin = "9999999h"
ready_timeout = "61m"
)");
    for (const char* key : {"refresh.min_backoff", "refresh.max_backoff", "refresh.request_timeout",
                            "refresh.serve_margin", "refresh.ready_timeout"}) {
        const auto* p = find_problem(c, key);
        ASSERT_NE(p, nullptr) << key << "\n" << describe(c);
        EXPECT_NE(p->message.find("must be "), std::string::npos) << p->message;
    }
    EXPECT_EQ(find_problem(c, "refresh.serve_margin")->message.rfind("must be at most 6h", 0), 0u);
    const auto from_env =
        parse(minimal, environment{{{"PRIAVA_TOKEND_REFRESH_MAX_BACKOFF", "25h"}}});
    const auto* p = find_problem(from_env, "refresh.max_backoff");
    ASSERT_NE(p, nullptr) << describe(from_env);
    EXPECT_NE(p->message.find("between 1ms and 24h"), std::string::npos) << p->message;
}

TEST(Config, JitterMustStayBelowTheRefreshPoint) {
    const auto c = parse(std::string(minimal) +
                         "[refresh]\nat_lifetime_fraction = 0.3\njitter_fraction = 0.4\n");
    EXPECT_NE(find_problem(c, "refresh.jitter_fraction"), nullptr) << describe(c);
}

TEST(Config, SocketModeMustLetTheOwnerConnect) {
    const auto c = parse(std::string(minimal) + "[listen]\nmode = \"0066\"\n");
    EXPECT_NE(find_problem(c, "listen.mode"), nullptr);
}

TEST(Config, UnknownGroupIsAnError) {
    const auto c = parse(std::string(minimal) + "[listen]\ngroup = \"no-such-group-xyz\"\n");
    const auto* p = find_problem(c, "listen.group");
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->fix.find("groupadd"), std::string::npos);
}

TEST(Config, InsecureTokenUrlIsAnError) {
    const auto c = parse(R"(
[priava]
token_url = "http://api.priava.com/api/rest/oauth/token"
region = "EU"
client_id = "x"
redirect_uri = "https://cb"
)");
    const auto* p = find_problem(c, "priava.token_url");
    ASSERT_NE(p, nullptr);
    EXPECT_NE(p->message.find("loopback"), std::string::npos);
}

TEST(Config, SyntaxErrorGivesLineAndColumn) {
    const auto c = parse("[priava\nregion = 1\n");
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].message.find("test.toml:1:"), std::string::npos)
        << c.problems[0].message;
}

TEST(Config, EmptyOrControlCharacterValuesAreErrors) {
    const auto c = parse(R"(
[priava]
token_url = "https://h/t"
region = "EU"
client_id = ""
redirect_uri = "https://cb\u0007"
)");
    EXPECT_NE(find_problem(c, "priava.client_id"), nullptr);
    EXPECT_NE(find_problem(c, "priava.redirect_uri"), nullptr);
}

TEST(ConfigLocation, FlagThenEnvironmentThenDefault) {
    const environment env{{{"PRIAVA_TOKEND_CONFIG", "/env.toml"}}};
    EXPECT_EQ(locate_config(std::string("/flag.toml"), env).path, "/flag.toml");
    EXPECT_EQ(locate_config(std::nullopt, env).path, "/env.toml");
    EXPECT_TRUE(locate_config(std::nullopt, env).chosen);
    const auto fallback = locate_config(std::nullopt, environment{});
    EXPECT_EQ(fallback.path, default_config_path);
    EXPECT_FALSE(fallback.chosen);
}

TEST(ConfigLocation, ChosenFileMustExist) {
    const auto c = load_config({"/nonexistent/x.toml", true}, environment{});
    ASSERT_EQ(c.problems.size(), 1u);
    EXPECT_NE(c.problems[0].message.find("/nonexistent/x.toml"), std::string::npos);
}

TEST(ConfigLocation, MissingDefaultFileFallsBackToTheEnvironment) {
    const auto c = load_config({"/nonexistent/x.toml", false}, environment{});
    EXPECT_NE(find_problem(c, "priava.token_url"), nullptr);
}

// Found by the config fuzzer: the empty key, which TOML allows, gave a problem without a name.
TEST(Config, NamesUnknownKeysAsWrittenEvenWhenEmptyOrQuoted) {
    const auto c = parse_config("\"\" = \"info\"\n[log]\n\"a b\" = 1\n", "t.toml", environment{});
    EXPECT_NE(find_problem(c, "\"\""), nullptr);
    EXPECT_NE(find_problem(c, "log.\"a b\""), nullptr);
}

TEST(Config, ParsesRegionsExactlyAsPriavaNamesThem) {
    EXPECT_EQ(parse_region("APAC"), region::apac);
    EXPECT_EQ(parse_region("EU"), region::eu);
    EXPECT_EQ(parse_region("US"), region::us);
    EXPECT_EQ(parse_region("eu"), std::nullopt);
    EXPECT_EQ(parse_region(""), std::nullopt);
    for (const region r : {region::apac, region::eu, region::us}) {
        EXPECT_EQ(parse_region(to_string(r)), r);
    }
}

TEST(Config, MaxConnectionsOutsideOneTo65536IsAProblemThatSaysTheRange) {
    for (const char* value : {"0", "65537"}) {
        const auto c = parse(std::string(minimal) + "[listen]\nmax_connections = " + value + "\n");
        const auto* p = find_problem(c, "listen.max_connections");
        ASSERT_NE(p, nullptr) << value;
        EXPECT_EQ(p->message, "must be between 1 and 65536 (test.toml:8)");
        EXPECT_EQ(p->fix, "use e.g. 1024");
    }
    EXPECT_TRUE(
        parse(std::string(minimal) + "[listen]\nmax_connections = 65536\n").problems.empty());
}

} // namespace
} // namespace priava_tokend
