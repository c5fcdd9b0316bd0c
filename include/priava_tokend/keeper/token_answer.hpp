#pragma once

#include <priava_tokend/keeper/held_token.hpp>

#include <chrono>
#include <string>

namespace priava_tokend {

/// Why a reader gets no token.
enum class refusal {
    none,
    no_token,           ///< none yet (starting)
    expired,            ///< held one is within serve_margin of expiry or past it
    reauth_required,    ///< Priava rejected the credential and the held token is spent
    refresh_failed,     ///< the refresh this reader waited for failed
    timed_out,          ///< the refresh this reader waited for did not finish in time
    lifetime_too_short, ///< even a fresh token has less than the asked min_ttl
    conflict,           ///< bootstrap refused: a working credential is held (no --force)
    rejected,           ///< bootstrap: Priava rejected the code
};

/// A reader's answer: a token (valid until the keeper's next change) or a refusal.
struct token_answer {
    const held_token* token = nullptr;
    refusal why = refusal::none;
    std::string detail{};                ///< safe for clients: never a secret
    std::chrono::seconds retry_after{5}; ///< for 503's Retry-After
    std::string priava_error{};          ///< bootstrap: Priava's `error` for the code
};

} // namespace priava_tokend
