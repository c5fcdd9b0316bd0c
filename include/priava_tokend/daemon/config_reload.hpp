#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/environment.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>

#include <string>
#include <vector>

namespace priava_tokend {

/// What a reload (SIGHUP) read: the new configuration and the connection to Priava it makes, or
/// why neither may be applied. `notes` are warnings for the log either way.
struct reload_result {
    std::optional<config> values;
    std::optional<priava_connection> connection;
    std::vector<std::string> errors;
    std::vector<std::string> notes;
};

/// Reads the configuration and the files it names again. Blocking (files, and group names through
/// NSS): the daemon runs it off the event loop. A new `token_url`, `client_id` or `region` is
/// another credential and is refused; `state.path` and the socket settings keep their running
/// values until the next start. `lock_for_children` goes to the new connection's token request
/// processes (`open_priava_connection`).
reload_result reload_config(const config_location& where, const environment& env,
                            const config& running, unique_fd lock_for_children);

} // namespace priava_tokend
