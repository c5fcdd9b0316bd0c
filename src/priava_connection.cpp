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
    std::shared_ptr<net::ssl::context> tls;
    if (endpoint->tls) {
        auto ctx = make_tls_client_context(cfg.priava.ca_file);
        if (!ctx) {
            return ctx.error();
        }
        tls = std::move(*ctx);
    }
    return priava_connection{
        std::make_shared<const oauth_client>(std::move(*endpoint), cfg.priava.region,
                                             std::move(tls), cfg.refresh.request_timeout),
        client_credentials{cfg.priava.client_id, std::move(secret->value), cfg.priava.redirect_uri},
        std::move(secret->source)};
}

} // namespace priava_tokend
