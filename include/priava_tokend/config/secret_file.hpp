#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/environment.hpp>
#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/secret.hpp>

#include <string>

namespace priava_tokend {

/// A secret and where it came from ("file /run/...", "environment variable ..."), for logs.
struct sourced_secret {
    secret value;
    std::string source;
};

/// The largest secret file (or code on standard input) read.
inline constexpr std::size_t largest_secret_text = 4096;

/// A secret value from text that holds it alone: surrounding white space (a trailing newline)
/// removed, non-empty, at most 4 KiB, printable without spaces. `where` names the text in
/// messages ("client secret file /etc/x", "standard input"); messages never quote the text.
outcome<secret> secret_from_text(std::string text, std::string_view where);

/// Reads a file holding one secret value (client secret or authorization code) as above.
/// With `must_be_private`, a file that group or others may access is refused (`file_insecure`)
/// unless it lives under `/run/secrets/` or `$CREDENTIALS_DIRECTORY`, whose modes the container
/// runtime or systemd set. `name` calls the file in messages ("the authorization code file
/// (bootstrap.code_file)"): by the setting that named it, never by a path an operator may have
/// filled with the secret itself. A FIFO or device is refused without blocking.
outcome<secret> read_secret_file(const std::string& path, std::string_view name,
                                 bool must_be_private, const environment& env);

/// The client secret, from the first of: `priava.client_secret_file`,
/// `$CREDENTIALS_DIRECTORY/client_secret`, `/run/secrets/priava_client_secret`,
/// `$PRIAVA_CLIENT_SECRET`. A file that is configured but unusable is an error, not a reason to
/// look further.
outcome<sourced_secret> resolve_client_secret(const config::priava_section& priava,
                                              const environment& env);

inline constexpr const char* docker_client_secret_path = "/run/secrets/priava_client_secret";

} // namespace priava_tokend
