#pragma once

#include <priava_tokend/config.hpp>
#include <priava_tokend/environment.hpp>
#include <priava_tokend/error.hpp>
#include <priava_tokend/oauth_client.hpp>
#include <priava_tokend/token_request.hpp>

#include <memory>
#include <string>

namespace priava_tokend {

/// Everything needed to ask Priava for tokens, built from the configuration: the HTTPS client
/// (TLS context included) and the client credentials with the secret resolved.
struct priava_connection {
    std::shared_ptr<const oauth_client> client;
    client_credentials credentials;
    std::string secret_source; ///< where the secret came from, for the log
};

/// Fails naming the secret file, `ca_file` or URL involved.
outcome<priava_connection> open_priava_connection(const config& cfg, const environment& env);

} // namespace priava_tokend
