#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/keeper/stored_tokens.hpp>

#include <string>
#include <string_view>

namespace priava_tokend {

/// Reads and checks the state file: `state_missing` if there is none; `file_insecure` if it is
/// not a regular file owned by this user with mode 0600 or stricter; `state_corrupt`;
/// `state_foreign`. Messages name the path and the fix.
outcome<stored_tokens> read_state_file(const std::string& path, std::string_view fingerprint);

/// Replaces the file atomically: a 0600 temporary file in the same directory, fsync, rename,
/// fsync of the directory. On failure the previous file is untouched and the temporary removed.
/// Blocking; the daemon calls it off the event loop.
outcome<void> write_state_file(const std::string& path, const secret& text);

/// Removes temporary files a killed writer left beside `path`. Call while holding the lock.
void remove_stale_temporaries(const std::string& path);

} // namespace priava_tokend
