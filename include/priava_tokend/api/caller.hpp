#pragma once

#include <priava_tokend/api/peer_credentials.hpp>

#include <optional>

namespace priava_tokend {

/// The connection a request came in on, for the endpoints that care who asks.
struct caller {
    int fd = -1;
    std::optional<peer_credentials> peer; ///< filled on first need

    /// The peer's credentials (`SO_PEERCRED`), asked of the kernel once; null if it will not say.
    const peer_credentials* credentials();
};

} // namespace priava_tokend
