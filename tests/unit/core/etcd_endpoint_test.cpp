#include <priava_tokend/core/etcd_endpoint.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace priava_tokend {
namespace {

etcd_endpoint parsed(std::string_view url) {
    auto ep = parse_etcd_endpoint(url);
    EXPECT_TRUE(ep.has_value()) << url << ": " << (ep ? std::string() : ep.error().message);
    return ep ? std::move(*ep) : etcd_endpoint{};
}

/// The message of the refusal; fails the test if `url` is taken.
std::string refusal(std::string_view url) {
    const auto ep = parse_etcd_endpoint(url);
    EXPECT_FALSE(ep.has_value()) << url << " was taken";
    if (ep) {
        return {};
    }
    EXPECT_EQ(ep.error().code, make_error_code(errc::config_invalid)) << url;
    return ep.error().message;
}

TEST(EtcdEndpoint, HttpWithoutAPortUsesEtcdsClientPort) {
    const auto ep = parsed("http://10.0.0.1");
    EXPECT_FALSE(ep.tls);
    EXPECT_EQ(ep.host, "10.0.0.1");
    EXPECT_EQ(ep.port, 2379);
    EXPECT_EQ(ep.host_header, "10.0.0.1:2379");
    EXPECT_EQ(ep.url, "http://10.0.0.1");
}

TEST(EtcdEndpoint, HttpWithAPort) {
    const auto ep = parsed("http://10.0.0.1:32379");
    EXPECT_FALSE(ep.tls);
    EXPECT_EQ(ep.host, "10.0.0.1");
    EXPECT_EQ(ep.port, 32379);
    EXPECT_EQ(ep.host_header, "10.0.0.1:32379");
}

TEST(EtcdEndpoint, HttpsIsTlsAndAlsoDefaultsTo2379) {
    const auto named = parsed("https://etcd-1.example.com:2380");
    EXPECT_TRUE(named.tls);
    EXPECT_EQ(named.host, "etcd-1.example.com");
    EXPECT_EQ(named.port, 2380);
    EXPECT_EQ(named.host_header, "etcd-1.example.com:2380");
    const auto plain = parsed("https://etcd-1");
    EXPECT_TRUE(plain.tls);
    EXPECT_EQ(plain.port, 2379);
    EXPECT_EQ(plain.host_header, "etcd-1:2379");
}

TEST(EtcdEndpoint, AnIpv6LiteralLosesItsBracketsOnlyInTheHost) {
    const auto ep = parsed("http://[::1]:2379");
    EXPECT_EQ(ep.host, "::1");
    EXPECT_EQ(ep.port, 2379);
    EXPECT_EQ(ep.host_header, "[::1]:2379");
    const auto defaulted = parsed("https://[2001:db8::7]");
    EXPECT_EQ(defaulted.host, "2001:db8::7");
    EXPECT_EQ(defaulted.host_header, "[2001:db8::7]:2379");
}

TEST(EtcdEndpoint, TakesATrailingSlash) {
    const auto ep = parsed("http://10.0.0.1:2379/");
    EXPECT_EQ(ep.host, "10.0.0.1");
    EXPECT_EQ(ep.port, 2379);
    EXPECT_EQ(ep.host_header, "10.0.0.1:2379");
    EXPECT_EQ(ep.url, "http://10.0.0.1:2379/") << "as configured, for log lines";
}

TEST(EtcdEndpoint, TakesTheWholePortRange) {
    EXPECT_EQ(parsed("http://h:1").port, 1);
    EXPECT_EQ(parsed("http://h:65535").port, 65535);
}

TEST(EtcdEndpoint, RefusesOtherSchemes) {
    for (const std::string_view url : {"ftp://10.0.0.1:2379", "unix:///run/etcd.sock",
                                       "grpc://10.0.0.1:2379", "localhost:2379"}) {
        const std::string message = refusal(url);
        EXPECT_NE(message.find("must start with http:// or https://"), std::string::npos)
            << url << ": " << message;
    }
}

TEST(EtcdEndpoint, RefusesAPathQueryOrFragment) {
    for (const std::string_view url :
         {"http://10.0.0.1:2379/v3", "http://10.0.0.1:2379//", "http://10.0.0.1:2379?x=1",
          "http://10.0.0.1:2379/?", "http://10.0.0.1/v3/kv/range"}) {
        const std::string message = refusal(url);
        EXPECT_NE(message.find("must have no path, query or fragment"), std::string::npos)
            << url << ": " << message;
        EXPECT_NE(message.find(std::string(url)), std::string::npos) << "names the endpoint";
    }
    // An absolute URI has no fragment: refused before its parts are looked at.
    EXPECT_FALSE(parse_etcd_endpoint("http://10.0.0.1:2379#members"));
    EXPECT_FALSE(parse_etcd_endpoint("http://10.0.0.1:2379/#"));
}

TEST(EtcdEndpoint, RefusesUserInfoWithoutEchoingIt) {
    for (const std::string_view url :
         {"http://root:s3cret@10.0.0.1:2379", "https://root@etcd-1", "http://:s3cret@h"}) {
        const std::string message = refusal(url);
        EXPECT_NE(message.find("must not contain user info"), std::string::npos)
            << url << ": " << message;
        EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
        EXPECT_NE(message.find("cluster.password_file"), std::string::npos) << message;
    }
}

TEST(EtcdEndpoint, RefusesABadPort) {
    for (const std::string_view url :
         {"http://10.0.0.1:0", "http://10.0.0.1:65536", "http://10.0.0.1:99999999999",
          "http://10.0.0.1:", "http://[::1]:0"}) {
        const std::string message = refusal(url);
        EXPECT_NE(message.find("has a port that is not 1-65535"), std::string::npos)
            << url << ": " << message;
    }
    EXPECT_FALSE(parse_etcd_endpoint("http://10.0.0.1:23a9")) << "not a number";
}

TEST(EtcdEndpoint, RefusesAMissingHost) {
    for (const std::string_view url : {"http://:2379", "http://", "https:///"}) {
        const std::string message = refusal(url);
        EXPECT_NE(message.find("has no valid host"), std::string::npos) << url << ": " << message;
    }
    EXPECT_NE(refusal("http://[v1.future]:2379").find("has no valid host"), std::string::npos);
}

TEST(EtcdEndpoint, RefusesSpacesAndControlCharacters) {
    for (const std::string_view url :
         {"http://10.0.0.1:2379 ", " http://10.0.0.1", "http://10.0.0.1\n", "http://a\tb"}) {
        EXPECT_EQ(refusal(url), "an etcd endpoint contains a space or control character") << url;
    }
}

TEST(EtcdEndpoint, RefusesWhatIsNotAUrl) {
    for (const std::string_view url : {"", "10.0.0.1:2379", "http://[::1", "//10.0.0.1:2379"}) {
        EXPECT_FALSE(parse_etcd_endpoint(url)) << url;
    }
    EXPECT_NE(refusal("10.0.0.1:2379").find("is not a URL like http://10.0.0.1:2379"),
              std::string::npos);
}

} // namespace
} // namespace priava_tokend
