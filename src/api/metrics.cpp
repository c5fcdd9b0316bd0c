#include <priava_tokend/api/metrics.hpp>
#include <priava_tokend/core/version.hpp>

#include <algorithm>
#include <charconv>
#include <span>
#include <type_traits>

namespace priava_tokend {
namespace {

/// The shortest text that reads back as the same double: 1796096002 (not 1.796096e+09),
/// 0.000123, 1e+21. Prometheus parses it with Go's ParseFloat, which takes every such form.
std::string number(double v) {
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return std::string(buf, ec == std::errc{} ? end : buf);
}

/// Writes metric families one after another in the text format: `family` starts one, `sample`
/// adds a sample to it.
class exposition {
  public:
    explicit exposition(std::string& out)
        : out_(out) {}

    exposition& family(std::string_view name, std::string_view type, std::string_view help) {
        name_ = name;
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
        return *this;
    }

    /// `labels` as written between the braces; `suffix` for a histogram's `_bucket` and the like.
    exposition& sample(double value, std::string_view labels = {}, std::string_view suffix = {}) {
        out_ += name_;
        out_ += suffix;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
        out_ += number(value);
        out_ += '\n';
        return *this;
    }

    template <class Count>
    exposition& sample(Count value, std::string_view labels = {},
                       std::string_view suffix = {}) requires std::is_integral_v<Count> {
        return sample(static_cast<double>(value), labels, suffix);
    }

  private:
    std::string& out_;
    std::string_view name_;
};

std::string label(std::string_view name, std::string_view value) {
    return std::string(name) + "=\"" + std::string(value) + "\"";
}

void token_metrics(exposition& e, const keeper_status& status) {
    e.family("priava_tokend_state", "gauge", "1 for the current token state, 0 for the others.");
    for (const token_state s : all_token_states) {
        e.sample(s == status.state ? 1 : 0, label("state", to_string(s)));
    }
    e.family("priava_tokend_token_expiry_timestamp_seconds", "gauge",
             "Unix time at which the held access token expires (0 without a token).")
        .sample(status.token != nullptr ? unix_seconds(status.token->expires_at) : 0.0);
    e.family("priava_tokend_token_generation", "gauge",
             "Generation of the held token; grows by one with every new token.")
        .sample(status.generation);
}

/// A histogram family's samples: cumulative `_bucket`s from per-bucket `counts` (one per bound),
/// `+Inf`, `_sum` and `_count`.
void histogram_samples(exposition& e, std::span<const double> bounds,
                       std::span<const std::uint64_t> counts, std::uint64_t count, double sum) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        cumulative += counts[i];
        e.sample(cumulative, label("le", number(bounds[i])), "_bucket");
    }
    e.sample(count, R"(le="+Inf")", "_bucket").sample(sum, {}, "_sum").sample(count, {}, "_count");
}

void refresh_metrics(exposition& e, const keeper_status& status, const refresh_stats& stats) {
    e.family("priava_tokend_refresh_total", "counter",
             "Token requests to Priava by result (code exchanges included).")
        .sample(stats.success, R"(result="success")")
        .sample(stats.transient_error, R"(result="transient_error")")
        .sample(stats.rejected, R"(result="rejected")");
    e.family("priava_tokend_refresh_duration_seconds", "histogram",
             "Duration of token requests to Priava.");
    histogram_samples(e, refresh_stats::bucket_bounds, stats.buckets, stats.duration_count,
                      stats.duration_sum);
    e.family("priava_tokend_last_refresh_success_timestamp_seconds", "gauge",
             "Unix time of the last successful token request (0 if none since start).")
        .sample(stats.last_success ? unix_seconds(*stats.last_success) : 0.0);
    e.family("priava_tokend_consecutive_failures", "gauge",
             "Transient failures since the last successful token request.")
        .sample(status.consecutive_failures);
}

void store_metrics(exposition& e, const keeper_status& status, const refresh_stats& stats) {
    e.family("priava_tokend_state_file_writes_total", "counter",
             "State file replacements by result.")
        .sample(stats.state_writes, R"(result="success")")
        .sample(stats.state_write_failures, R"(result="failure")");
    e.family("priava_tokend_state_file_persisted", "gauge",
             "1 when the newest refresh token is on disk, 0 while it is held in memory only.")
        .sample(status.persisted ? 1 : 0);
}

void socket_metrics(exposition& e, const request_counters& requests,
                    const connection_stats& connections) {
    e.family("priava_tokend_connections", "gauge", "Open connections on the API socket.")
        .sample(connections.open);
    e.family("priava_tokend_connections_closed_total", "counter",
             "Connections the daemon closed itself, by reason.")
        .sample(connections.evicted, R"(reason="evicted")")
        .sample(connections.timed_out, R"(reason="timed_out")");
    e.family("priava_tokend_requests_total", "counter", "Socket API requests by path and code.");
    requests.for_each([&](api_path path, unsigned code, std::uint64_t n) {
        e.sample(n, label("path", to_string(path)) + "," + label("code", std::to_string(code)));
    });
}

} // namespace

std::size_t request_counters::code_index(unsigned status) noexcept {
    const auto* found = std::find(codes.begin(), codes.end(), status);
    if (found == codes.end()) {
        // An answer outside the table is a bug worth seeing as one.
        found = std::find(codes.begin(), codes.end(), 500U);
    }
    return static_cast<std::size_t>(found - codes.begin());
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
    exposition e(out);
    e.family("priava_tokend_build_info", "gauge", "Version of the running daemon.")
        .sample(1, label("version", version()));
    token_metrics(e, status);
    refresh_metrics(e, status, stats);
    store_metrics(e, status, stats);
    socket_metrics(e, requests, connections);
    return out;
}

std::string render_proxy_metrics(const proxy_stats& stats, const request_budget& budget) {
    std::string out;
    exposition e(out);
    e.family("priava_tokend_proxy_requests_total", "counter",
             "Calls through /v1/proxy/, by the status the app got (Priava's or the daemon's).");
    for (const auto& [code, count] : stats.responses) {
        e.sample(count, label("code", std::to_string(code)));
    }
    e.family("priava_tokend_proxy_queue_wait_seconds", "histogram",
             "Time proxied calls waited for Priava's budget.");
    histogram_samples(e, proxy_stats::wait_buckets, stats.wait_counts, stats.waits,
                      stats.wait_sum_seconds);
    const auto now = request_budget::clock::now();
    e.family("priava_tokend_proxy_queued", "gauge", "Calls waiting for Priava's budget now.")
        .sample(budget.queued());
    e.family("priava_tokend_priava_requests_in_window", "gauge",
             "Requests sent to Priava (token requests included) in the last proxy.window.")
        .sample(budget.in_window(now));
    e.family("priava_tokend_proxy_retries_total", "counter",
             "Proxied calls sent again: after a 401 with a newer token, or after a 429's pause.")
        .sample(stats.retries_401, label("reason", "401"))
        .sample(stats.retries_429, label("reason", "429"));
    return out;
}

std::string render_cluster_metrics(const cluster_status& status) {
    std::string out;
    exposition e(out);
    e.family("priava_tokend_cluster_leader", "gauge",
             "1 on the node that refreshes the cluster's credential, else 0.")
        .sample(status.role == "leader" ? 1 : 0);
    e.family("priava_tokend_cluster_etcd_up", "gauge", "1 while etcd answers this node, else 0.")
        .sample(status.etcd_up ? 1 : 0);
    return out;
}

} // namespace priava_tokend
