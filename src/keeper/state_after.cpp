#include <priava_tokend/keeper/state_after.hpp>

namespace priava_tokend {

stored_tokens state_after_tokens(const stored_tokens& before, const token_set& tokens,
                                 wall_time received, const std::string& code_digest) {
    return stored_tokens{tokens.refresh_token.value_or(before.refresh_token),
                         tokens.access_token,
                         received + tokens.expires_in,
                         received,
                         before.generation + 1,
                         code_digest};
}

stored_tokens state_after_rotation(const stored_tokens& before, const secret& rotated,
                                   const std::string& code_digest) {
    stored_tokens after = before;
    after.refresh_token = rotated;
    after.bootstrap_code_sha256 = code_digest;
    return after;
}

} // namespace priava_tokend
