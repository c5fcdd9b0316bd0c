#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>
#include <priava_tokend/priava/tls_context.hpp>
#include <priava_tokend/priava/token_request_process.hpp>

namespace priava_tokend {

outcome<priava_connection> open_priava_connection(const config& cfg, const environment& env,
                                                  request_transport transport,
                                                  unique_fd lock_for_children) {
    auto endpoint = parse_token_url(cfg.priava.token_url);
    if (!endpoint) {
        return endpoint.error();
    }
    auto resolved = resolve_client_secret(cfg.priava, env);
    if (!resolved) {
        return resolved.error();
    }
    if (cfg.priava.ca_file) {
        if (auto ca = check_ca_file(*cfg.priava.ca_file); !ca) {
            return ca.error();
        }
    }
    std::shared_ptr<const token_client> client;
    if (transport == request_transport::child_process) {
        client = std::make_shared<const token_request_process>(
            "/proc/self/exe",
            token_request_order{cfg.priava.token_url, std::string(to_string(cfg.priava.region)),
                                cfg.priava.ca_file, cfg.refresh.request_timeout, secret{}},
            std::move(lock_for_children));
    } else {
        client =
            std::make_shared<const oauth_client>(std::move(*endpoint), cfg.priava.region,
                                                 cfg.priava.ca_file, cfg.refresh.request_timeout);
    }
    return priava_connection{std::move(client),
                             client_credentials{cfg.priava.client_id, std::move(resolved->value),
                                                cfg.priava.redirect_uri},
                             std::move(resolved->source)};
}

} // namespace priava_tokend
