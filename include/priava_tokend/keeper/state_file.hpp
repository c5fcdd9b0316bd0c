#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/core/timestamp.hpp>

#include <cstdint>
#include <string>

namespace priava_tokend {

/// Everything that must survive a restart. The refresh token is the one thing that cannot be
/// recovered without a person; the rest lets a restarted daemon serve at once.
struct stored_tokens {
    secret refresh_token;
    secret access_token;
    wall_time expires_at;
    wall_time received_at;
    std::uint64_t generation = 0;
    std::string bootstrap_code_sha256; ///< digest of the code the chain began with, or empty
};

/// SHA-256 (hex) of token_url, client_id and region: a state file made for another credential
/// is refused rather than used.
std::string credential_fingerprint(const config::priava_section& priava);

/// SHA-256 (hex) of any text; used for the bootstrap code so the same code is not sent twice.
std::string sha256_hex(std::string_view text);

/// The file's JSON text.
secret encode_state(const stored_tokens& tokens, std::string_view fingerprint);
outcome<stored_tokens> decode_state(std::string_view text, std::string_view fingerprint);

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
