#pragma once

#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/core/timestamp.hpp>
#include <priava_tokend/keeper/stored_tokens.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <string>

namespace priava_tokend {

/// What must be stored once new tokens arrived at `received`, from what was stored `before`: the
/// next generation, the new refresh token (or the one before when Priava sent none: RFC 6749 §6),
/// and `code_digest`, the code the chain began with. The keeper and a token request process that
/// writes the state in its place (delegated_write.hpp) both compute it here, so the state file
/// and the token the daemon holds agree.
stored_tokens state_after_tokens(const stored_tokens& before, const token_set& tokens,
                                 wall_time received, const std::string& code_digest);

/// What must be stored after a malformed reply that still carried a new refresh token: the state
/// before with that refresh token (the old one is consumed), in the same generation.
stored_tokens state_after_rotation(const stored_tokens& before, const secret& rotated,
                                   const std::string& code_digest);

} // namespace priava_tokend
