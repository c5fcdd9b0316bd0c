#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/priava/region.hpp>
#include <priava_tokend/priava/token_client.hpp>
#include <priava_tokend/priava/token_endpoint.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <optional>
#include <string>

namespace priava_tokend {

/// Speaks to Priava's token endpoint: one connection per request, one deadline for all of it
/// (resolve, connect, TLS, write, read), a 64 KiB cap on the reply. The certificate is checked
/// against the system store plus `ca_file` and the URL's host (name or IP address); SNI is sent
/// for host names. The TLS context is made for each request and dropped after it: requests come
/// hours apart, and between them the daemon holds none of OpenSSL's state.
class oauth_client final : public token_client {
  public:
    oauth_client(token_endpoint endpoint, region tenant, std::optional<std::string> ca_file,
                 milliseconds timeout);

    /// Sends `body` (from `token_request_body`) and classifies what comes back. Never throws for
    /// network outcomes; every failure is a `transient_failure` or a `rejection`.
    net::awaitable<token_outcome> request(const secret& body) const override;

    const token_endpoint& endpoint() const noexcept { return endpoint_; }

  private:
    token_endpoint endpoint_;
    region tenant_;
    std::optional<std::string> ca_file_;
    milliseconds timeout_;
};

/// The largest token-endpoint reply accepted.
inline constexpr std::size_t largest_token_response = 64 * 1024;

} // namespace priava_tokend
