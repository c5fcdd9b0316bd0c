#pragma once

#include <priava_tokend/cli/cli.hpp>
#include <priava_tokend/core/environment.hpp>

#include <iosfwd>

namespace priava_tokend {

/// The subcommands other than `run` (see daemon.hpp). Each returns the process exit status and
/// writes results to `out`, errors as one line each to `err`.

/// `bootstrap`: exchanges a code itself, or through the running daemon holding the state lock.
int bootstrap_command(const command_line& line, const environment& env, std::istream& in,
                      std::ostream& out, std::ostream& err);

/// `token`, `status`, `healthcheck`: clients of the running daemon.
int token_command(const command_line& line, const environment& env, std::ostream& out,
                  std::ostream& err);
int status_command(const command_line& line, const environment& env, std::ostream& out,
                   std::ostream& err);
int healthcheck_command(const command_line& line, const environment& env, std::ostream& err);

/// `check-config`: the configuration and every file it names.
int check_config_command(const command_line& line, const environment& env, std::ostream& out,
                         std::ostream& err);

/// The socket a client command talks to: `--socket`, `$PRIAVA_TOKEND_SOCKET`, or the default.
std::string client_socket_path(const command_line& line, const environment& env);

} // namespace priava_tokend
