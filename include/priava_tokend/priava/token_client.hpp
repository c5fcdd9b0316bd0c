#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/priava/token_response.hpp>

namespace priava_tokend {

/// Something that sends one token request to Priava and tells what came of it: in this process
/// (`oauth_client`) or in a short-lived child process (`token_request_process`).
class token_client {
  public:
    virtual ~token_client() = default;

    /// Sends `body` (from `token_request_body`). Every failure is a `transient_failure` or a
    /// `rejection`; never throws for network outcomes.
    virtual net::awaitable<token_outcome> request(const secret& body) const = 0;

    /// As `request`, for a caller that must store what the answer brings: `store` is its order
    /// for doing so (opaque here; keeper/delegated_write.hpp). A client that can store in the
    /// caller's place before it answers (`token_request_process`) does, and says so in the
    /// outcome (`token_set::stored`, `transient_failure::rotation_stored`); the others ignore it.
    virtual net::awaitable<token_outcome> request_and_store(const secret& body,
                                                            const secret& /*store*/) const {
        co_return co_await request(body);
    }
};

} // namespace priava_tokend
