#pragma once

#include <string_view>

namespace priava_tokend {

/// The states `/v1/status` reports (docs/socket-api.md).
enum class token_state { starting, valid, refreshing, retrying, expired, reauth_required };

std::string_view to_string(token_state s) noexcept;

inline constexpr token_state all_token_states[] = {
    token_state::starting, token_state::valid,   token_state::refreshing,
    token_state::retrying, token_state::expired, token_state::reauth_required};

} // namespace priava_tokend
