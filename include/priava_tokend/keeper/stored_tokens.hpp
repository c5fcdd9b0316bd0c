#pragma once

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

} // namespace priava_tokend
