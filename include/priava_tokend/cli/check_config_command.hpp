#pragma once

#include <priava_tokend/cli/command_line.hpp>
#include <priava_tokend/core/environment.hpp>

#include <iosfwd>

namespace priava_tokend {

/// `priava-tokend check-config`: the configuration and every file it names, each problem with
/// its key and fix on `err`, a summary on `out`. Returns the exit status.
int check_config_command(const command_line& line, const environment& env, std::ostream& out,
                         std::ostream& err);

} // namespace priava_tokend
