#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/environment.hpp>

namespace priava_tokend {

/// `priava-tokend run`: loads the configuration and the state (or exchanges
/// `bootstrap.code_file`), serves the socket API and keeps the token fresh until SIGTERM/SIGINT.
/// Returns the process exit status.
int run_daemon(const config_location& where, const environment& env);

} // namespace priava_tokend
