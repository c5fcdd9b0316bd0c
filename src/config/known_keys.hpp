#pragma once

// Private to the config part: the keys the configuration knows, and what to say about others.

#include <priava_tokend/config/config.hpp>

#include <toml++/toml.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace priava_tokend {

struct known_key {
    std::string_view section;
    std::string_view key;
};

inline constexpr std::array<known_key, 44> known_keys{{
    {"priava", "token_url"},
    {"priava", "region"},
    {"priava", "client_id"},
    {"priava", "client_secret_file"},
    {"priava", "redirect_uri"},
    {"priava", "ca_file"},
    {"bootstrap", "code_file"},
    {"refresh", "at_lifetime_fraction"},
    {"refresh", "jitter_fraction"},
    {"refresh", "min_backoff"},
    {"refresh", "max_backoff"},
    {"refresh", "request_timeout"},
    {"refresh", "serve_margin"},
    {"refresh", "ready_timeout"},
    {"state", "path"},
    {"listen", "socket"},
    {"listen", "mode"},
    {"listen", "group"},
    {"listen", "allow_uids"},
    {"listen", "allow_gids"},
    {"listen", "max_connections"},
    {"proxy", "enabled"},
    {"proxy", "upstream"},
    {"proxy", "budget"},
    {"proxy", "window"},
    {"proxy", "max_queue_wait"},
    {"proxy", "max_queued"},
    {"proxy", "max_concurrent"},
    {"proxy", "max_request_body"},
    {"proxy", "upstream_timeout"},
    {"proxy", "listen_tcp"},
    {"proxy", "tcp_auth_token_file"},
    {"cluster", "etcd_endpoints"},
    {"cluster", "name"},
    {"cluster", "node"},
    {"cluster", "lease_ttl"},
    {"cluster", "encryption_key_file"},
    {"cluster", "ca_file"},
    {"cluster", "cert_file"},
    {"cluster", "key_file"},
    {"cluster", "username"},
    {"cluster", "password_file"},
    {"log", "format"},
    {"log", "level"},
}};

/// Variables with the prefix that are not keys: the client commands' own.
inline constexpr std::array<std::string_view, 2> non_key_variables{"PRIAVA_TOKEND_CONFIG",
                                                                   "PRIAVA_TOKEND_SOCKET"};

inline constexpr std::string_view env_prefix = "PRIAVA_TOKEND_";

/// `PRIAVA_TOKEND_<SECTION>_<KEY>`: the variable that overrides a key.
std::string env_name(std::string_view section, std::string_view key);

/// "did you mean refresh.min_backoff?" for a near miss, else the list of keys of the section.
std::string suggest_key(std::string_view section, std::string_view key);

/// A problem for every section and key of `file` this daemon does not know.
void report_unknown_keys(const toml::table& file, std::string_view source,
                         std::vector<config_problem>& problems);

/// A problem for every `PRIAVA_TOKEND_<SECTION>_...` variable that names no key.
void report_unknown_variables(const environment& env, std::vector<config_problem>& problems);

} // namespace priava_tokend
