#include <priava_tokend/api/tcp_admission.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;

const secret token{"s3cret-tcp-token"};

http::fields with(std::initializer_list<std::pair<std::string_view, std::string_view>> list) {
    http::fields f;
    for (const auto& [name, value] : list) {
        f.insert(name, value);
    }
    return f;
}

unsigned status_of(const http::fields& f, std::string_view target = "/v1/proxy/events") {
    const auto r = tcp_refusal(f, target, token);
    return r ? r->status() : 0;
}

TEST(TcpAdmission, LoopbackHostsWithAnyPortAreAccepted) {
    for (const char* host :
         {"localhost", "localhost:8445", "127.0.0.1", "127.0.0.1:1", "[::1]", "[::1]:8445"}) {
        EXPECT_TRUE(loopback_host_header(host)) << host;
    }
    for (const char* host : {"evil.example", "localhost.evil.example", "127.0.0.2", "[::2]",
                             "[::1]x", "[::1", "", "0.0.0.0:8445", "LOCALHOST.:80"}) {
        EXPECT_FALSE(loopback_host_header(host)) << host;
    }
}

TEST(TcpAdmission, ARequestWithTheTokenAndALoopbackHostPasses) {
    EXPECT_EQ(
        status_of(with({{"Host", "localhost:8445"}, {"Priava-Tokend-Auth", "s3cret-tcp-token"}})),
        0u);
}

TEST(TcpAdmission, AMissingOrWrongTokenIs401) {
    EXPECT_EQ(status_of(with({{"Host", "localhost"}})), 401u);
    EXPECT_EQ(status_of(with({{"Host", "localhost"}, {"Priava-Tokend-Auth", "s3cret-tcp-tokeN"}})),
              401u);
    EXPECT_EQ(status_of(with({{"Host", "localhost"}, {"Priava-Tokend-Auth", "s3cret"}})), 401u);
    EXPECT_EQ(status_of(with({{"Host", "localhost"}, {"Priava-Tokend-Auth", ""}})), 401u);
}

TEST(TcpAdmission, HealthProbesNeedNoToken) {
    EXPECT_EQ(status_of(with({{"Host", "127.0.0.1:8445"}}), "/livez"), 0u);
    EXPECT_EQ(status_of(with({{"Host", "127.0.0.1:8445"}}), "/readyz"), 0u);
    EXPECT_EQ(status_of(with({{"Host", "127.0.0.1:8445"}}), "/v1/status"), 401u);
}

TEST(TcpAdmission, RelayedRequestsAndForeignHostsAre403EvenWithTheToken) {
    for (const char* header : {"Forwarded", "X-Forwarded-For", "Via"}) {
        EXPECT_EQ(status_of(with({{"Host", "localhost"},
                                  {"Priava-Tokend-Auth", "s3cret-tcp-token"},
                                  {header, "1.2.3.4"}})),
                  403u)
            << header;
    }
    EXPECT_EQ(
        status_of(with({{"Host", "rebound.example"}, {"Priava-Tokend-Auth", "s3cret-tcp-token"}})),
        403u);
    EXPECT_EQ(status_of(with({{"Priava-Tokend-Auth", "s3cret-tcp-token"}})), 403u) << "no Host";
    EXPECT_EQ(
        status_of(with(
            {{"Host", "localhost"}, {"Host", "evil"}, {"Priava-Tokend-Auth", "s3cret-tcp-token"}})),
        403u)
        << "two Hosts";
    EXPECT_EQ(status_of(with({{"Host", "evil.example"}}), "/livez"), 403u);
}

} // namespace
} // namespace priava_tokend
