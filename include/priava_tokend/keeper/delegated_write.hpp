#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/keeper/stored_tokens.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <string>
#include <string_view>

namespace priava_tokend {

/// The state write a token request process makes in the daemon's place
/// (docs/state-file.md#who-writes-it). The process that receives Priava's answer writes the new
/// state itself, durably, before the daemon hears of it: a daemon killed meanwhile loses nothing,
/// because the process goes on, and it holds the daemon's state lock through an inherited
/// descriptor, so a restarting daemon waits for it and reads what it wrote.
struct delegated_write {
    std::string path;        ///< the state file
    std::string fingerprint; ///< of the credential (credential_fingerprint.hpp)
    stored_tokens before;    ///< what the keeper held when it sent the request
    std::string code_digest; ///< what the new state records as the chain's code (state_after.hpp)
};

/// JSON for the token request order (its `store` field). It holds the tokens before: secrets, for
/// the private pipe to the process only.
secret encode_delegated_write(const delegated_write& write);
outcome<delegated_write> decode_delegated_write(std::string_view text);

/// In the token request process: writes the state `result` leads to (state_after.hpp) with
/// `write_state_file`, if `lock_fd` holds the state file's lock. Fails, naming why, when the
/// order is malformed, the lock is not held, the outcome brings nothing to store, or the write
/// fails (the daemon then writes itself, and retries).
outcome<void> perform_delegated_write(std::string_view order, const token_outcome& result,
                                      int lock_fd);

} // namespace priava_tokend
