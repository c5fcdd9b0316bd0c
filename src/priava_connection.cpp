#include <priava_tokend/priava_connection.hpp>
#include <priava_tokend/secret_file.hpp>
#include <priava_tokend/tls_context.hpp>

namespace priava_tokend {

outcome<priava_connection> open_priava_connection(const config& cfg, const environment& env) {
    auto endpoint = parse_token_url(cfg.priava.token_url);
    if (!endpoint) {
        return endpoint.error();
    }
    auto secret = resolve_client_secret(cfg.priava, env);
    if (!secret) {
        return secret.error();
    }
    if (cfg.priava.ca_file) {
        if (auto ca = check_ca_file(*cfg.priava.ca_file); !ca) {
            return ca.error();
        }
    }
    return priava_connection{
        std::make_shared<const oauth_client>(std::move(*endpoint), cfg.priava.region,
                                             cfg.priava.ca_file, cfg.refresh.request_timeout),
        client_credentials{cfg.priava.client_id, std::move(secret->value), cfg.priava.redirect_uri},
        std::move(secret->source)};
}

} // namespace priava_tokend
