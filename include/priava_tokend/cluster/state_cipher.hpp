#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/secret.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace priava_tokend {

/// AES-256-GCM over the cluster's shared state (docs/cluster.md): a fresh random 96-bit nonce per
/// seal, the associated data bound into the tag. Const member functions may run concurrently.
class state_cipher {
  public:
    static constexpr std::size_t key_size = 32;
    static constexpr std::size_t nonce_size = 12;
    static constexpr std::size_t tag_size = 16;

    /// Reads `encryption_key_file`: 32 random bytes, base64 (surrounding white space allowed).
    /// A file group or others may access is refused (`file_insecure`) unless it lives under
    /// `/run/secrets/` or `$CREDENTIALS_DIRECTORY`, as for the other secret files. Other failures
    /// are `file_unreadable`; messages name the path and what is wrong, never the content.
    static outcome<state_cipher> from_key_file(const std::string& path);

    /// `key` is 32 raw bytes; throws std::invalid_argument otherwise.
    explicit state_cipher(secret key);

    /// nonce (12 bytes) | ciphertext | tag (16 bytes), raw bytes, with a fresh nonce from
    /// RAND_bytes each call. Throws std::runtime_error if OpenSSL fails (no entropy).
    std::string seal(std::string_view plaintext, std::string_view associated) const;

    /// The plaintext of what `seal` made with the same key and associated data; `state_corrupt`
    /// if the input is too short or does not authenticate (another key, or altered data).
    outcome<secret> open(std::string_view sealed, std::string_view associated) const;

    /// A short, non-secret name of the key (the first 8 hex digits of its SHA-256), so that two
    /// nodes' logs show whether they hold the same key.
    std::string key_id() const { return key_id_; }

  private:
    secret key_;
    std::string key_id_;
};

} // namespace priava_tokend
