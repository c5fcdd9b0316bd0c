#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/keeper/stored_tokens.hpp>

#include <string_view>

namespace priava_tokend {

/// The state file's JSON text (docs/state-file.md): format version, credential fingerprint and
/// the tokens. The text holds the refresh token.
secret encode_state(const stored_tokens& tokens, std::string_view fingerprint);

/// Fails with `state_corrupt` (naming what is wrong, never a value) or `state_foreign` when the
/// text was made for another credential.
outcome<stored_tokens> decode_state(std::string_view text, std::string_view fingerprint);

} // namespace priava_tokend
