#pragma once

#include <iosfwd>

namespace priava_tokend {

/// `priava-tokend token-request`, internal: the daemon's token request process
/// (priava/token_request_process.hpp). It reads the order on `in`, sends it to Priava, and when
/// the order says so writes the new state itself before it answers on `out`, holding the
/// daemon's state lock (keeper/delegated_write.hpp). Returns the exit status.
int token_request_command(std::istream& in, std::ostream& out, std::ostream& err);

} // namespace priava_tokend
