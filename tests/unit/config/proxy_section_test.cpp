#include "config_fixture.hpp"

#include <priava_tokend/config/config.hpp>

#include <gtest/gtest.h>

#include <algorithm>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using namespace testing;

loaded_config parse_proxy(std::string_view proxy, environment env = {}) {
    return parse(std::string(minimal) + "[proxy]\n" + std::string(proxy), std::move(env));
}

/// The message of the one problem with `key`; fails when there are others.
std::string only_problem(const loaded_config& c, std::string_view key) {
    EXPECT_EQ(c.problems.size(), 1u);
    const auto* p = find_problem(c, key);
    return p == nullptr ? "(no problem with " + std::string(key) + ")" : p->message;
}

TEST(ProxySection, DefaultsAreSpecsAndTheUpstreamComesFromTheTokenUrl) {
    const auto c = parse_proxy("");
    ASSERT_TRUE(c.problems.empty());
    const auto& p = c.values.proxy;
    EXPECT_FALSE(p.enabled);
    EXPECT_EQ(p.upstream, "https://api.priava.com/api/rest");
    EXPECT_EQ(p.budget, 450u);
    EXPECT_EQ(p.window, 300s);
    EXPECT_EQ(p.max_queue_wait, 30s);
    EXPECT_EQ(p.max_queued, 1024u);
    EXPECT_EQ(p.max_concurrent, 8u);
    EXPECT_EQ(p.max_request_body, 8u * 1024 * 1024);
    EXPECT_EQ(p.upstream_timeout, 60s);
    EXPECT_FALSE(p.listen_tcp);
    EXPECT_FALSE(p.tcp_auth_token_file);
}

TEST(ProxySection, ReadsEveryKey) {
    const auto c = parse_proxy(R"(
enabled = false
upstream = "https://api-sandbox.priava.com/api/rest/"
budget = 100
window = "60s"
max_queue_wait = "0s"
max_queued = 10
max_concurrent = 2
max_request_body = "512KiB"
upstream_timeout = "5s"
listen_tcp = "[::1]:8445"
tcp_auth_token_file = "/run/secrets/tcp"
)");
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    const auto& p = c.values.proxy;
    EXPECT_EQ(p.upstream, "https://api-sandbox.priava.com/api/rest") << "no trailing slash";
    EXPECT_EQ(p.budget, 100u);
    EXPECT_EQ(p.window, 60s);
    EXPECT_EQ(p.max_queue_wait, 0s);
    EXPECT_EQ(p.max_queued, 10u);
    EXPECT_EQ(p.max_concurrent, 2u);
    EXPECT_EQ(p.max_request_body, 512u * 1024);
    EXPECT_EQ(p.upstream_timeout, 5s);
    EXPECT_EQ(p.listen_tcp, "[::1]:8445");
    EXPECT_EQ(p.tcp_auth_token_file, "/run/secrets/tcp");
}

TEST(ProxySection, TheEnvironmentOverridesTheFile) {
    const auto c = parse_proxy(
        "budget = 100\n",
        environment{{{"PRIAVA_TOKEND_PROXY_BUDGET", "200"}, {"PRIAVA_TOKEND_PROXY_WINDOW", "2m"}}});
    ASSERT_TRUE(c.problems.empty());
    EXPECT_EQ(c.values.proxy.budget, 200u);
    EXPECT_EQ(c.values.proxy.window, 120s);
}

TEST(ProxySection, EnabledDerivesTheUpstreamFromTheTokenUrl) {
    const auto c = parse_proxy("enabled = true\n");
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_TRUE(c.values.proxy.enabled);
    EXPECT_EQ(c.values.proxy.upstream, "https://api.priava.com/api/rest");
}

TEST(ProxySection, ListenTcpTakesOnlyLoopbackAddresses) {
    for (const char* ok : {"127.0.0.1:8445", "127.1.2.3:1", "[::1]:8445", "localhost:8445"}) {
        const auto c = parse_proxy("listen_tcp = \"" + std::string(ok) +
                                   "\"\ntcp_auth_token_file = \"/run/t\"\n");
        EXPECT_TRUE(c.problems.empty()) << ok;
    }
    for (const char* foreign : {"0.0.0.0:8445", "192.168.1.5:80", "[::]:8445", "example.com:1"}) {
        const auto c = parse_proxy("listen_tcp = \"" + std::string(foreign) +
                                   "\"\ntcp_auth_token_file = \"/run/t\"\n");
        EXPECT_NE(only_problem(c, "proxy.listen_tcp").find("not a loopback address"),
                  std::string::npos)
            << foreign;
    }
    for (const char* malformed : {"8445", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":80"}) {
        const auto c = parse_proxy("listen_tcp = \"" + std::string(malformed) +
                                   "\"\ntcp_auth_token_file = \"/run/t\"\n");
        EXPECT_NE(only_problem(c, "proxy.listen_tcp").find("is not HOST:PORT"), std::string::npos)
            << malformed;
    }
}

TEST(ProxySection, ListenTcpNeedsAnAuthTokenFile) {
    const auto c = parse_proxy("listen_tcp = \"127.0.0.1:8445\"\n");
    EXPECT_EQ(only_problem(c, "proxy.tcp_auth_token_file"), "is required with listen_tcp");
}

TEST(ProxySection, UpstreamIsCheckedLikeTheTokenUrlAndNamedAsItself) {
    const auto c = parse_proxy("upstream = \"http://api.priava.com/api/rest\"\n");
    const auto message = only_problem(c, "proxy.upstream");
    EXPECT_NE(message.find("upstream uses http://"), std::string::npos) << message;
    EXPECT_EQ(message.find("token_url"), std::string::npos) << message;
}

TEST(ProxySection, AnUpstreamThatCannotBeDerivedIsNamedWhenTheProxyIsOn) {
    const auto c = parse(R"(
[priava]
token_url    = "https://auth.example.com/token"
region       = "EU"
client_id    = "client-1"
redirect_uri = "https://my.app.com/oauth2callback"
[proxy]
enabled = true
)");
    ASSERT_NE(find_problem(c, "proxy.upstream"), nullptr);
    EXPECT_NE(find_problem(c, "proxy.upstream")->message.find("cannot be derived"),
              std::string::npos);
}

TEST(ProxySection, OutOfRangeValuesAreProblemsThatSayTheRange) {
    struct bad {
        const char* line;
        const char* key;
        const char* says;
    };
    for (const auto& [line, key, says] : std::initializer_list<bad>{
             {"budget = 0", "proxy.budget", "between 1 and 100000"},
             {"max_concurrent = 0", "proxy.max_concurrent", "between 1 and 1024"},
             {"max_queued = -1", "proxy.max_queued", "between 0 and 1000000"},
             {"window = \"500ms\"", "proxy.window", "between 1s and"},
             {"upstream_timeout = \"1h\"", "proxy.upstream_timeout", "between 1s and 10m"},
             {"max_request_body = \"8MB\"", "proxy.max_request_body", "not a size"},
             {"max_request_body = \"2GiB\"", "proxy.max_request_body", "at most 1GiB"},
         }) {
        const auto c = parse_proxy(std::string(line) + "\n");
        EXPECT_NE(only_problem(c, key).find(says), std::string::npos)
            << line << ": " << only_problem(c, key);
    }
}

} // namespace
} // namespace priava_tokend
