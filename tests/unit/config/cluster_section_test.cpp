#include "config_fixture.hpp"
#include "temp_dir.hpp"

#include <priava_tokend/config/config.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using namespace testing;

using endpoints = std::vector<std::string>;

/// The key file line every cluster needs, so a test sees only the problem it is about.
constexpr std::string_view key_file = "encryption_key_file = \"/etc/priava-tokend/cluster.key\"\n";

loaded_config parse_cluster(std::string_view cluster, environment env = {}) {
    return parse(std::string(minimal) + "[cluster]\n" + std::string(cluster), std::move(env));
}

/// A cluster of the given `etcd_endpoints` line plus `more`.
loaded_config with_endpoints(std::string_view list, std::string_view more = {}) {
    return parse_cluster("etcd_endpoints = " + std::string(list) + "\n" + std::string(key_file) +
                         std::string(more));
}

/// The message of the one problem with `key`; fails when there are others.
std::string only_problem(const loaded_config& c, std::string_view key) {
    EXPECT_EQ(c.problems.size(), 1u) << describe(c);
    const auto* p = find_problem(c, key);
    return p == nullptr ? "(no problem with " + std::string(key) + ")" : p->message;
}

TEST(ClusterSection, DefaultsLeaveClusterModeOff) {
    const auto c = parse(minimal);
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    const auto& k = c.values.cluster;
    EXPECT_FALSE(k.enabled());
    EXPECT_TRUE(k.etcd_endpoints.empty());
    EXPECT_EQ(k.name, "default");
    EXPECT_EQ(k.node, "") << "the host name, filled in by the daemon";
    EXPECT_EQ(k.lease_ttl, 10s);
    EXPECT_EQ(k.encryption_key_file, "");
    EXPECT_FALSE(k.ca_file);
    EXPECT_FALSE(k.cert_file);
    EXPECT_FALSE(k.key_file);
    EXPECT_FALSE(k.username);
    EXPECT_FALSE(k.password_file);
}

TEST(ClusterSection, AnEmptySectionLeavesClusterModeOff) {
    const auto c = parse_cluster("");
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_FALSE(c.values.cluster.enabled());
}

TEST(ClusterSection, ReadsEveryKey) {
    const auto c = parse_cluster(R"(
etcd_endpoints = ["https://10.0.0.1:2379", "https://etcd-2.example.com", "https://[::1]:2379/"]
name = "prod.eu_1"
node = "host-1"
lease_ttl = "15s"
encryption_key_file = "/etc/priava-tokend/cluster.key"
ca_file = "/etc/etcd/ca.pem"
cert_file = "/etc/etcd/client.pem"
key_file = "/etc/etcd/client.key"
username = "priava"
password_file = "/run/secrets/etcd_password"
)");
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    const auto& k = c.values.cluster;
    EXPECT_TRUE(k.enabled());
    EXPECT_EQ(k.etcd_endpoints, (endpoints{"https://10.0.0.1:2379", "https://etcd-2.example.com",
                                           "https://[::1]:2379/"}));
    EXPECT_EQ(k.name, "prod.eu_1");
    EXPECT_EQ(k.node, "host-1");
    EXPECT_EQ(k.lease_ttl, 15s);
    EXPECT_EQ(k.encryption_key_file, "/etc/priava-tokend/cluster.key");
    EXPECT_EQ(k.ca_file, "/etc/etcd/ca.pem");
    EXPECT_EQ(k.cert_file, "/etc/etcd/client.pem");
    EXPECT_EQ(k.key_file, "/etc/etcd/client.key");
    EXPECT_EQ(k.username, "priava");
    EXPECT_EQ(k.password_file, "/run/secrets/etcd_password");
}

TEST(ClusterSection, ReadsTheSectionFromARealFile) {
    const temp_dir dir;
    const std::string path = dir.file("priava-tokend.toml");
    write_file(path, std::string(minimal) + "[cluster]\n" + std::string(key_file) +
                         "etcd_endpoints = [\"http://10.0.0.1:2379\", \"ftp://10.0.0.2:2379\"]\n");
    const auto c = load_config({path, true}, environment{});
    const std::string message = only_problem(c, "cluster.etcd_endpoints");
    EXPECT_NE(message.find("must start with http:// or https://"), std::string::npos) << message;
    EXPECT_NE(message.find(path + ":9"), std::string::npos)
        << "names the file and line: " << message;
    EXPECT_FALSE(c.values.cluster.enabled()) << "a bad list is not half taken";
}

// --- etcd_endpoints ------------------------------------------------------------------------

TEST(ClusterSection, EndpointsComeFromTheEnvironmentSeparatedByCommas) {
    const auto c = parse_cluster(key_file, environment{{{"PRIAVA_TOKEND_CLUSTER_ETCD_ENDPOINTS",
                                                         "http://a:2379,http://b:2379"}}});
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_EQ(c.values.cluster.etcd_endpoints, (endpoints{"http://a:2379", "http://b:2379"}));
    EXPECT_TRUE(c.values.cluster.enabled());
}

TEST(ClusterSection, EndpointsFromTheEnvironmentMayBeBracketedAndSpaced) {
    const auto c = parse_cluster(key_file, environment{{{"PRIAVA_TOKEND_CLUSTER_ETCD_ENDPOINTS",
                                                         "[http://a:2379, https://b]"}}});
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_EQ(c.values.cluster.etcd_endpoints, (endpoints{"http://a:2379", "https://b"}));
}

TEST(ClusterSection, TheEnvironmentOverridesTheFilesEndpoints) {
    const auto c =
        parse_cluster("etcd_endpoints = [\"http://file:2379\"]\n" + std::string(key_file),
                      environment{{{"PRIAVA_TOKEND_CLUSTER_ETCD_ENDPOINTS", "http://env:2379"}}});
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_EQ(c.values.cluster.etcd_endpoints, (endpoints{"http://env:2379"}));
}

TEST(ClusterSection, ABadEndpointIsAProblemNamingTheKey) {
    struct bad {
        const char* url;
        const char* says;
    };
    for (const auto& [url, says] : std::initializer_list<bad>{
             {"ftp://10.0.0.1:2379", "must start with http:// or https://"},
             {"http://10.0.0.1:2379/v3", "must have no path, query or fragment"},
             {"http://10.0.0.1:2379?x=1", "must have no path, query or fragment"},
             {"http://user:pw@10.0.0.1:2379", "must not contain user info"},
             {"http://10.0.0.1:0", "has a port that is not 1-65535"},
             {"http://10.0.0.1:65536", "has a port that is not 1-65535"},
             {"http://10.0.0.1:", "has a port that is not 1-65535"},
             {"10.0.0.1:2379", "is not a URL"},
         }) {
        const auto c = with_endpoints("[\"http://10.0.0.9:2379\", \"" + std::string(url) + "\"]");
        const std::string message = only_problem(c, "cluster.etcd_endpoints");
        EXPECT_NE(message.find(says), std::string::npos) << url << ": " << message;
        EXPECT_FALSE(c.values.cluster.enabled()) << url;
    }
}

TEST(ClusterSection, AMessageAboutUserInfoDoesNotEchoThePassword) {
    const auto c = with_endpoints("[\"http://user:hunter2@10.0.0.1:2379\"]");
    const std::string message = only_problem(c, "cluster.etcd_endpoints");
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    EXPECT_NE(message.find("cluster.password_file"), std::string::npos) << message;
}

TEST(ClusterSection, ABadEndpointFromTheEnvironmentNamesTheVariable) {
    const auto c = parse_cluster(key_file, environment{{{"PRIAVA_TOKEND_CLUSTER_ETCD_ENDPOINTS",
                                                         "http://a:2379,ftp://b:2379"}}});
    const std::string message = only_problem(c, "cluster.etcd_endpoints");
    EXPECT_NE(message.find("must start with http:// or https://"), std::string::npos) << message;
    EXPECT_NE(message.find("environment variable PRIAVA_TOKEND_CLUSTER_ETCD_ENDPOINTS"),
              std::string::npos)
        << message;
}

TEST(ClusterSection, EndpointsMustBeAnArrayOfNonEmptyStrings) {
    EXPECT_NE(only_problem(with_endpoints("\"http://a:2379\""), "cluster.etcd_endpoints")
                  .find("must be an array of strings"),
              std::string::npos);
    EXPECT_NE(only_problem(with_endpoints("[\"http://a:2379\", 2379]"), "cluster.etcd_endpoints")
                  .find("must hold only strings"),
              std::string::npos);
    EXPECT_NE(only_problem(with_endpoints("[\"http://a:2379\", \"\"]"), "cluster.etcd_endpoints")
                  .find("holds an empty item"),
              std::string::npos);
}

// --- name and node -------------------------------------------------------------------------

TEST(ClusterSection, NameAndNodeTakeLettersDigitsDotsUnderscoresAndDashes) {
    const auto c = with_endpoints("[\"http://a:2379\"]", "name = \"Prod-1.eu_x\"\nnode = \"" +
                                                             std::string(64, 'n') + "\"\n");
    ASSERT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_EQ(c.values.cluster.name, "Prod-1.eu_x");
    EXPECT_EQ(c.values.cluster.node, std::string(64, 'n'));
}

TEST(ClusterSection, NameAndNodeRefuseOtherCharacters) {
    for (const std::string key : {"name", "node"}) {
        for (const std::string& value : std::initializer_list<std::string>{
                 "a/b", "a b", "host:1", "h\\u00f6st", "a*", std::string(65, 'x')}) {
            const auto c = with_endpoints("[\"http://a:2379\"]", key + " = \"" + value + "\"\n");
            const std::string message = only_problem(c, "cluster." + key);
            EXPECT_NE(message.find("must be 1-64 letters, digits, '.', '_' or '-'"),
                      std::string::npos)
                << key << " = " << value << ": " << message;
        }
    }
}

TEST(ClusterSection, ARefusedNameKeepsTheDefault) {
    const auto c = with_endpoints("[\"http://a:2379\"]", "name = \"a/b\"\n");
    EXPECT_EQ(c.values.cluster.name, "default");
}

TEST(ClusterSection, AnEmptyNodeIsAProblem) {
    const auto c = with_endpoints("[\"http://a:2379\"]", "node = \"\"\n");
    EXPECT_EQ(only_problem(c, "cluster.node").find("is empty"), 0u);
}

// --- lease_ttl -----------------------------------------------------------------------------

TEST(ClusterSection, LeaseTtlIsWholeSecondsFromTwoSecondsToFiveMinutes) {
    for (const auto& [text, ttl] : std::initializer_list<std::pair<const char*, milliseconds>>{
             {"2s", 2s}, {"10s", 10s}, {"2000ms", 2s}, {"5m", 5min}}) {
        const auto c =
            with_endpoints("[\"http://a:2379\"]", "lease_ttl = \"" + std::string(text) + "\"\n");
        ASSERT_TRUE(c.problems.empty()) << text << ": " << describe(c);
        EXPECT_EQ(c.values.cluster.lease_ttl, ttl) << text;
    }
    for (const char* text : {"1s", "301s", "1500ms", "10m"}) {
        const auto c =
            with_endpoints("[\"http://a:2379\"]", "lease_ttl = \"" + std::string(text) + "\"\n");
        EXPECT_NE(only_problem(c, "cluster.lease_ttl").find("between 2s and 5m"), std::string::npos)
            << text;
        EXPECT_EQ(c.values.cluster.lease_ttl, 10s) << text << ": the default stays";
    }
}

TEST(ClusterSection, LeaseTtlMustBeADurationAboveZero) {
    EXPECT_NE(only_problem(with_endpoints("[\"http://a:2379\"]", "lease_ttl = \"0s\"\n"),
                           "cluster.lease_ttl")
                  .find("must be between 2s and 5m"),
              std::string::npos);
    EXPECT_NE(only_problem(with_endpoints("[\"http://a:2379\"]", "lease_ttl = \"ten\"\n"),
                           "cluster.lease_ttl")
                  .find("is not a duration"),
              std::string::npos);
}

TEST(ClusterSection, LeaseTtlComesFromTheEnvironmentToo) {
    const auto taken =
        parse_cluster("etcd_endpoints = [\"http://a:2379\"]\n" + std::string(key_file),
                      environment{{{"PRIAVA_TOKEND_CLUSTER_LEASE_TTL", "20s"}}});
    ASSERT_TRUE(taken.problems.empty()) << describe(taken);
    EXPECT_EQ(taken.values.cluster.lease_ttl, 20s);
    const auto refused =
        parse_cluster("etcd_endpoints = [\"http://a:2379\"]\n" + std::string(key_file),
                      environment{{{"PRIAVA_TOKEND_CLUSTER_LEASE_TTL", "1s"}}});
    EXPECT_NE(only_problem(refused, "cluster.lease_ttl")
                  .find("(environment variable PRIAVA_TOKEND_CLUSTER_LEASE_TTL)"),
              std::string::npos);
}

// --- files and credentials -----------------------------------------------------------------

TEST(ClusterSection, TheEncryptionKeyFileIsRequiredWithEndpoints) {
    const auto c = parse_cluster("etcd_endpoints = [\"http://a:2379\"]\n");
    EXPECT_EQ(only_problem(c, "cluster.encryption_key_file"), "is required in cluster mode");
    EXPECT_NE(find_problem(c, "cluster.encryption_key_file")->fix.find("openssl rand -base64 32"),
              std::string::npos);
}

TEST(ClusterSection, TheEncryptionKeyFileIsNotRequiredWithoutEndpoints) {
    const auto c = parse_cluster("name = \"x\"\n");
    EXPECT_TRUE(c.problems.empty()) << describe(c);
}

TEST(ClusterSection, ACertFileNeedsAKeyFileAndTheOtherWayRound) {
    EXPECT_EQ(only_problem(with_endpoints("[\"https://a\"]", "cert_file = \"/etc/c.pem\"\n"),
                           "cluster.key_file"),
              "is required with cert_file");
    EXPECT_EQ(only_problem(with_endpoints("[\"https://a\"]", "key_file = \"/etc/c.key\"\n"),
                           "cluster.cert_file"),
              "is required with key_file");
}

TEST(ClusterSection, AUsernameNeedsAPasswordFileAndTheOtherWayRound) {
    EXPECT_EQ(only_problem(with_endpoints("[\"https://a\"]", "username = \"priava\"\n"),
                           "cluster.password_file"),
              "is required with username");
    EXPECT_EQ(only_problem(with_endpoints("[\"https://a\"]", "password_file = \"/run/p\"\n"),
                           "cluster.username"),
              "is required with password_file");
}

TEST(ClusterSection, TheProxyRunsInClusterModeOnTheClustersBudget) {
    const auto c =
        parse(std::string(minimal) + "[proxy]\nenabled = true\nbudget = 100\n[cluster]\n" +
              std::string(key_file) + "etcd_endpoints = [\"http://a:2379\"]\n");
    EXPECT_TRUE(c.problems.empty()) << describe(c);
    EXPECT_TRUE(c.values.proxy.enabled);
    EXPECT_EQ(c.values.proxy.budget, 100u);
    EXPECT_TRUE(c.values.cluster.enabled());
}

TEST(ClusterSection, TheProxyIsFineWithoutCluster) {
    const auto c =
        parse(std::string(minimal) + "[proxy]\nenabled = true\n[cluster]\nname = \"x\"\n");
    EXPECT_TRUE(c.problems.empty()) << describe(c);
}

TEST(ClusterSection, AnUnknownKeyInTheSectionIsAProblemWithASuggestion) {
    const auto c = with_endpoints("[\"http://a:2379\"]", "lease_tl = \"10s\"\n");
    EXPECT_EQ(only_problem(c, "cluster.lease_tl").find("unknown key"), 0u);
    const auto* p = find_problem(c, "cluster.lease_tl");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->fix, "did you mean cluster.lease_ttl?");
}

TEST(ClusterSection, AnUnknownClusterVariableIsAProblem) {
    const auto c = parse(minimal, environment{{{"PRIAVA_TOKEND_CLUSTER_ENDPOINTS", "http://a"}}});
    ASSERT_NE(find_problem(c, "PRIAVA_TOKEND_CLUSTER_ENDPOINTS"), nullptr) << describe(c);
    EXPECT_EQ(find_problem(c, "PRIAVA_TOKEND_CLUSTER_ENDPOINTS")->message,
              "unknown environment variable");
}

} // namespace
} // namespace priava_tokend
