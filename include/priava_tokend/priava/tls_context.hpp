#pragma once

#include <priava_tokend/core/error.hpp>

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <optional>
#include <string>

namespace priava_tokend {

/// The client context for Priava: TLS 1.2 or newer, peer verification against the system store
/// plus `ca_file` when given. Host names are checked per connection (see `oauth_client`).
/// Fails naming `ca_file` when it cannot be read or holds no certificate.
outcome<std::shared_ptr<boost::asio::ssl::context>>
make_tls_client_context(const std::optional<std::string>& ca_file);

/// A quick look at `ca_file` that needs no OpenSSL: readable and holding a PEM certificate.
/// The daemon checks this at start and reload; the full parse happens with each token request.
outcome<void> check_ca_file(const std::string& ca_file);

} // namespace priava_tokend
