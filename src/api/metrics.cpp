#include <priava_tokend/api/metrics.hpp>
#include <priava_tokend/core/version.hpp>

#include <charconv>

namespace priava_tokend {
namespace {

/// The shortest text that reads back as the same double: 1796096002 (not 1.796096e+09),
/// 0.000123, 1e+21. Prometheus parses it with Go's ParseFloat, which takes every such form.
std::string number(double v) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, ec == std::errc{} ? end : buf);
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

void sample(std::string& out, std::string_view name, std::string_view labels, double value) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    out += number(value);
    out += '\n';
}

} // namespace

std::size_t request_counters::code_index(unsigned status) noexcept {
    for (std::size_t i = 0; i < codes.size(); ++i) {
        if (codes[i] == status) {
            return i;
        }
    }
    return 10; // 500: an answer outside the table is a bug worth seeing as one
}

void request_counters::count(api_path path, unsigned status) noexcept {
    ++counts_[static_cast<std::size_t>(path)][code_index(status)];
}

std::uint64_t request_counters::get(api_path path, unsigned status) const noexcept {
    return counts_[static_cast<std::size_t>(path)][code_index(status)];
}

std::string render_metrics(const keeper_status& status, const refresh_stats& stats,
                           const request_counters& requests, const connection_stats& connections) {
    std::string out;
    out.reserve(4096);
    family(out, "priava_tokend_build_info", "gauge", "Version of the running daemon.");
    sample(out, "priava_tokend_build_info", "version=\"" + std::string(version()) + "\"", 1);

    family(out, "priava_tokend_state", "gauge", "1 for the current token state, 0 for the others.");
    for (const token_state s : all_token_states) {
        sample(out, "priava_tokend_state", "state=\"" + std::string(to_string(s)) + "\"",
               s == status.state ? 1 : 0);
    }

    family(out, "priava_tokend_token_expiry_timestamp_seconds", "gauge",
           "Unix time at which the held access token expires (0 without a token).");
    sample(out, "priava_tokend_token_expiry_timestamp_seconds", "",
           status.token != nullptr ? unix_seconds(status.token->expires_at) : 0);
    family(out, "priava_tokend_token_generation", "gauge",
           "Generation of the held token; grows by one with every new token.");
    sample(out, "priava_tokend_token_generation", "", static_cast<double>(status.generation));

    family(out, "priava_tokend_refresh_total", "counter",
           "Token requests to Priava by result (code exchanges included).");
    sample(out, "priava_tokend_refresh_total", "result=\"success\"",
           static_cast<double>(stats.success));
    sample(out, "priava_tokend_refresh_total", "result=\"transient_error\"",
           static_cast<double>(stats.transient_error));
    sample(out, "priava_tokend_refresh_total", "result=\"rejected\"",
           static_cast<double>(stats.rejected));

    family(out, "priava_tokend_refresh_duration_seconds", "histogram",
           "Duration of token requests to Priava.");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < refresh_stats::bucket_bounds.size(); ++i) {
        cumulative += stats.buckets[i];
        sample(out, "priava_tokend_refresh_duration_seconds_bucket",
               "le=\"" + number(refresh_stats::bucket_bounds[i]) + "\"",
               static_cast<double>(cumulative));
    }
    sample(out, "priava_tokend_refresh_duration_seconds_bucket", "le=\"+Inf\"",
           static_cast<double>(stats.duration_count));
    sample(out, "priava_tokend_refresh_duration_seconds_sum", "", stats.duration_sum);
    sample(out, "priava_tokend_refresh_duration_seconds_count", "",
           static_cast<double>(stats.duration_count));

    family(out, "priava_tokend_last_refresh_success_timestamp_seconds", "gauge",
           "Unix time of the last successful token request (0 if none since start).");
    sample(out, "priava_tokend_last_refresh_success_timestamp_seconds", "",
           stats.last_success ? unix_seconds(*stats.last_success) : 0);

    family(out, "priava_tokend_consecutive_failures", "gauge",
           "Transient failures since the last successful token request.");
    sample(out, "priava_tokend_consecutive_failures", "",
           static_cast<double>(status.consecutive_failures));

    family(out, "priava_tokend_state_file_writes_total", "counter",
           "State file replacements by result.");
    sample(out, "priava_tokend_state_file_writes_total", "result=\"success\"",
           static_cast<double>(stats.state_writes));
    sample(out, "priava_tokend_state_file_writes_total", "result=\"failure\"",
           static_cast<double>(stats.state_write_failures));
    family(out, "priava_tokend_state_file_persisted", "gauge",
           "1 when the newest refresh token is on disk, 0 while it is held in memory only.");
    sample(out, "priava_tokend_state_file_persisted", "", status.persisted ? 1 : 0);

    family(out, "priava_tokend_connections", "gauge", "Open connections on the API socket.");
    sample(out, "priava_tokend_connections", "", static_cast<double>(connections.open));
    family(out, "priava_tokend_connections_closed_total", "counter",
           "Connections the daemon closed itself, by reason.");
    sample(out, "priava_tokend_connections_closed_total", "reason=\"evicted\"",
           static_cast<double>(connections.evicted));
    sample(out, "priava_tokend_connections_closed_total", "reason=\"timed_out\"",
           static_cast<double>(connections.timed_out));

    family(out, "priava_tokend_requests_total", "counter", "Socket API requests by path and code.");
    requests.for_each([&](api_path path, unsigned code, std::uint64_t n) {
        sample(out, "priava_tokend_requests_total",
               "path=\"" + std::string(to_string(path)) + "\",code=\"" + std::to_string(code) +
                   "\"",
               static_cast<double>(n));
    });
    return out;
}

} // namespace priava_tokend
