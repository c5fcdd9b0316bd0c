#pragma once

#include <string_view>

namespace priava_tokend {

/// Where the keeper's refresh cycle is. `refreshing` covers a token request in flight and the
/// write of what it brought; `stopping` lets both finish before `stopped`.
enum class keeper_phase {
    starting,        ///< no token yet; the first exchange is planned
    valid,           ///< a usable token; the next refresh is planned
    expired,         ///< the token is within serve_margin of expiry; a refresh is planned
    refreshing,      ///< a token request is in flight, or its tokens are being written
    retrying,        ///< the last request failed transiently; the next one is planned
    reauth_required, ///< Priava rejected the credential; waiting for a new code
    stopping,        ///< shut down asked; the request in flight and its write finish first
    stopped,
};
std::string_view to_string(keeper_phase p) noexcept;

/// Where the state file stands, beside the refresh cycle: the newest refresh token is on disk
/// (`clean`), being written, or held in memory only after a failed write, which is retried.
enum class persistence { clean, writing, failed };

} // namespace priava_tokend
