#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/environment.hpp>
#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/unique_fd.hpp>
#include <priava_tokend/priava/oauth_client.hpp>
#include <priava_tokend/priava/token_request.hpp>

#include <memory>
#include <string>

namespace priava_tokend {

/// Everything needed to ask Priava for tokens, built from the configuration: the HTTPS client
/// (TLS context included) and the client credentials with the secret resolved.
struct priava_connection {
    std::shared_ptr<const token_client> client;
    client_credentials credentials;
    std::string secret_source; ///< where the secret came from, for the log
};

/// Where token requests run: in this process (the short-lived command-line tools) or in a child
/// process per request (the daemon; see `token_request_process`).
enum class request_transport { in_process, child_process };

/// Fails naming the secret file, `ca_file` or URL involved. `lock_for_children`, with the child
/// process transport: the daemon's state lock, shared (`state_lock::share`), which every token
/// request process inherits so that it may store Priava's answer in the daemon's place.
outcome<priava_connection>
open_priava_connection(const config& cfg, const environment& env,
                       request_transport transport = request_transport::in_process,
                       unique_fd lock_for_children = {});

} // namespace priava_tokend
