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
};

} // namespace priava_tokend
