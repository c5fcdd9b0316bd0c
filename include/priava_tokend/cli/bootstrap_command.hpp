#pragma once

#include <priava_tokend/cli/command_line.hpp>
#include <priava_tokend/core/environment.hpp>

#include <iosfwd>

namespace priava_tokend {

/// `priava-tokend bootstrap`: exchanges an authorization code itself, or hands it to the running
/// daemon that holds the state lock. Returns the exit status (docs/command-line.md); results go
/// to `out`, errors as one line each to `err`.
int bootstrap_command(const command_line& line, const environment& env, std::istream& in,
                      std::ostream& out, std::ostream& err);

} // namespace priava_tokend
