#include <priava_tokend/api/metrics.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

TEST(Metrics, CountsRequestsByPathAndCode) {
    request_counters c;
    c.count(api_path::token, 200);
    c.count(api_path::token, 200);
    c.count(api_path::token, 503);
    EXPECT_EQ(c.get(api_path::token, 200), 2u);
    EXPECT_EQ(c.get(api_path::token, 503), 1u);
    EXPECT_EQ(c.get(api_path::status, 200), 0u);
}

TEST(Metrics, CountsARejectedBootstrapCodeAsItsOwnStatus) {
    request_counters c;
    c.count(api_path::bootstrap, 422);
    EXPECT_EQ(c.get(api_path::bootstrap, 422), 1u);
    EXPECT_EQ(c.get(api_path::bootstrap, 500), 0u);
}

TEST(Metrics, CountsAStatusOutsideTheTableAs500) {
    request_counters c;
    c.count(api_path::token, 418);
    EXPECT_EQ(c.get(api_path::token, 500), 1u);
}

TEST(Metrics, RendersEveryContractName) {
    keeper_status status;
    status.state = token_state::retrying;
    status.generation = 4;
    refresh_stats stats;
    stats.success = 3;
    stats.transient_error = 2;
    stats.observe_duration(std::chrono::milliseconds{70});
    stats.observe_duration(std::chrono::seconds{100});
    request_counters requests;
    requests.count(api_path::readyz, 503);
    const connection_stats connections{3, 1, 2};
    const std::string text = render_metrics(status, stats, requests, connections);
    for (const char* line : {
             "priava_tokend_token_expiry_timestamp_seconds 0\n",
             "priava_tokend_token_generation 4\n",
             "priava_tokend_refresh_total{result=\"success\"} 3\n",
             "priava_tokend_refresh_total{result=\"transient_error\"} 2\n",
             "priava_tokend_refresh_total{result=\"rejected\"} 0\n",
             "priava_tokend_refresh_duration_seconds_bucket{le=\"0.05\"} 0\n",
             "priava_tokend_refresh_duration_seconds_bucket{le=\"0.1\"} 1\n",
             "priava_tokend_refresh_duration_seconds_bucket{le=\"60\"} 1\n",
             "priava_tokend_refresh_duration_seconds_bucket{le=\"+Inf\"} 2\n",
             "priava_tokend_refresh_duration_seconds_count 2\n",
             "priava_tokend_last_refresh_success_timestamp_seconds 0\n",
             "priava_tokend_state{state=\"retrying\"} 1\n",
             "priava_tokend_state{state=\"valid\"} 0\n",
             "priava_tokend_requests_total{path=\"/readyz\",code=\"503\"} 1\n",
             "priava_tokend_connections 3\n",
             "priava_tokend_connections_closed_total{reason=\"evicted\"} 1\n",
             "priava_tokend_connections_closed_total{reason=\"timed_out\"} 2\n",
             "priava_tokend_build_info{version=\"",
             "# TYPE priava_tokend_refresh_duration_seconds histogram\n",
         }) {
        EXPECT_NE(text.find(line), std::string::npos) << line;
    }
}

TEST(Metrics, EverySampleReadsBackAsTheSameNumber) {
    held_token token;
    token.expires_at = wall_time{std::chrono::seconds{1796096002}};
    keeper_status status;
    status.token = &token;
    refresh_stats stats;
    stats.observe_duration(std::chrono::microseconds{123457});
    const std::string text = render_metrics(status, stats, {}, {});
    EXPECT_NE(text.find("priava_tokend_token_expiry_timestamp_seconds 1796096002\n"),
              std::string::npos)
        << "ten seconds of an expiry alarm must not be lost to rounding";
    EXPECT_NE(text.find("priava_tokend_refresh_duration_seconds_sum 0.123457\n"),
              std::string::npos);
    EXPECT_NE(text.find("le=\"0.05\""), std::string::npos);
    // Whatever the value, the text is the shortest that parses back to it.
    for (const double v : {0.1, 1e21, 1796096002.5, 3.0e-7, 12345678901234567.0}) {
        stats.duration_sum = v;
        const std::string again = render_metrics(status, stats, {}, {});
        const auto at = again.find("priava_tokend_refresh_duration_seconds_sum ") + 43;
        EXPECT_EQ(std::stod(again.substr(at, again.find('\n', at) - at)), v);
    }
}

} // namespace
} // namespace priava_tokend
