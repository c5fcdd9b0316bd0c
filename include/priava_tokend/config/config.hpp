#pragma once

#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/core/environment.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/priava/region.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace priava_tokend {

/// The daemon's settings, one member per key of docs/configuration.md, with its default.
struct config {
    struct priava_section {
        std::string token_url;
        priava_tokend::region region = region::apac;
        std::string client_id;
        std::optional<std::string> client_secret_file;
        std::string redirect_uri;
        std::optional<std::string> ca_file;
    } priava;
    struct bootstrap_section {
        std::optional<std::string> code_file;
    } bootstrap;
    struct refresh_section {
        double at_lifetime_fraction = 0.75;
        double jitter_fraction = 0.05;
        milliseconds min_backoff{1'000};
        milliseconds max_backoff{300'000};
        milliseconds request_timeout{30'000};
        milliseconds serve_margin{60'000};
        /// READY=1 at the latest this long after the start, token or not (docs/systemd.md).
        milliseconds ready_timeout{60'000};
    } refresh;
    struct state_section {
        std::string path = "/var/lib/priava-tokend/state.json";
    } state;
    struct listen_section {
        std::string socket = "/run/priava-tokend/token.sock";
        mode_t mode = 0660;
        std::optional<gid_t> group;
        std::vector<uid_t> allow_uids;
        std::vector<gid_t> allow_gids;
        std::size_t max_connections = 1024;
    } listen;
    /// The API proxy (docs/configuration.md): not served yet, so `enabled` must stay false.
    struct proxy_section {
        bool enabled = false;
        /// Empty in the file: `priava.token_url` without its `/oauth/token`.
        std::string upstream;
        std::size_t budget = 450;
        milliseconds window{300'000};
        milliseconds max_queue_wait{30'000};
        std::size_t max_queued = 1024;
        std::size_t max_concurrent = 8;
        std::uint64_t max_request_body = 8 * 1024 * 1024;
        milliseconds upstream_timeout{60'000};
        std::optional<std::string> listen_tcp; ///< `127.0.0.1:8445`, `[::1]:8445`: loopback only
        std::optional<std::string> tcp_auth_token_file;
    } proxy;
    /// Cluster mode (docs/cluster.md): several daemons share one credential through etcd.
    struct cluster_section {
        std::vector<std::string> etcd_endpoints; ///< empty: no cluster
        std::string name = "default";            ///< the key prefix `/priava-tokend/<name>/`
        std::string node;                        ///< empty in the file: the host name
        milliseconds lease_ttl{10'000};
        std::string encryption_key_file;
        std::optional<std::string> ca_file;
        std::optional<std::string> cert_file;
        std::optional<std::string> key_file;
        std::optional<std::string> username;
        std::optional<std::string> password_file;
        bool enabled() const noexcept { return !etcd_endpoints.empty(); }
    } cluster;
    struct log_section {
        log_format format = log_format::text;
        log_level level = log_level::info;
    } log;
};

/// One thing wrong with the configuration: the key (`refresh.min_backoff`), what is wrong, where
/// the value came from, and how to fix it.
struct config_problem {
    std::string key;
    std::string message;
    std::string fix;
};

/// Where the configuration file is: `--config`, else `$PRIAVA_TOKEND_CONFIG`, else the default.
/// Only a path the user chose must exist; without one the environment alone may configure.
struct config_location {
    std::string path;
    bool chosen = false;
};

inline constexpr const char* default_config_path = "/etc/priava-tokend/priava-tokend.toml";

config_location locate_config(const std::optional<std::string>& flag, const environment& env);

struct loaded_config {
    config values;
    std::vector<config_problem> problems; ///< empty when `values` may be used
};

/// Reads, merges (`PRIAVA_TOKEND_<SECTION>_<KEY>` wins over the file) and validates everything.
/// Collects every problem rather than stopping at the first.
loaded_config load_config(const config_location& where, const environment& env);

/// The same from TOML text already in memory; `source` names it in messages.
loaded_config parse_config(std::string_view toml_text, std::string_view source,
                           const environment& env);

} // namespace priava_tokend
