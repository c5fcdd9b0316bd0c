#pragma once

#include <priava_tokend/asio.hpp>
#include <priava_tokend/config.hpp>
#include <priava_tokend/token_endpoint.hpp>
#include <priava_tokend/token_response.hpp>

#include <boost/asio/ssl/context.hpp>

#include <memory>

namespace priava_tokend {

/// Speaks to Priava's token endpoint: one connection per request, one deadline for all of it
/// (resolve, connect, TLS, write, read), a 64 KiB cap on the reply. The certificate is checked
/// against the context's trust store and the URL's host (name or IP address); SNI is sent for
/// host names.
class oauth_client {
  public:
    /// `tls` may be null only for an `http://` (loopback) endpoint.
    oauth_client(token_endpoint endpoint, region tenant, std::shared_ptr<net::ssl::context> tls,
                 milliseconds timeout);

    /// Sends `body` (from `token_request_body`) and classifies what comes back. Never throws for
    /// network outcomes; every failure is a `transient_failure` or a `rejection`.
    net::awaitable<token_outcome> request(const secret& body) const;

    const token_endpoint& endpoint() const noexcept { return endpoint_; }

  private:
    token_endpoint endpoint_;
    region tenant_;
    std::shared_ptr<net::ssl::context> tls_;
    milliseconds timeout_;
};

/// The largest token-endpoint reply accepted.
inline constexpr std::size_t largest_token_response = 64 * 1024;

} // namespace priava_tokend
