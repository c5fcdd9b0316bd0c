#pragma once

#include <priava_tokend/cli/command_line.hpp>
#include <priava_tokend/core/environment.hpp>

#include <iosfwd>
#include <string>

namespace priava_tokend {

/// `token`, `status`, `healthcheck`, `api`: clients of the running daemon's socket. Each returns
/// the exit status (docs/command-line.md); results go to `out`, errors as one line each to `err`.
int token_command(const command_line& line, const environment& env, std::ostream& out,
                  std::ostream& err);
int status_command(const command_line& line, const environment& env, std::ostream& out,
                   std::ostream& err);
int healthcheck_command(const command_line& line, const environment& env, std::ostream& err);

/// `api METHOD PATH [--data @FILE|-]`: one call through the daemon's proxy; the answer's body
/// goes to `out` (streamed when it is a 2xx).
int api_command(const command_line& line, const environment& env, std::istream& in,
                std::ostream& out, std::ostream& err);

/// The socket a client command talks to: `--socket`, `$PRIAVA_TOKEND_SOCKET`, or the default.
std::string client_socket_path(const command_line& line, const environment& env);

} // namespace priava_tokend
