#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/daemon/cluster_node.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/priava/tls_context.hpp>

namespace priava_tokend {

outcome<etcd_options> etcd_options_for(const config::cluster_section& cluster,
                                       const environment& env) {
    etcd_options o;
    bool tls = false;
    for (const auto& url : cluster.etcd_endpoints) {
        auto ep = parse_etcd_endpoint(url);
        if (!ep) {
            return ep.error();
        }
        tls = tls || ep->tls;
        o.endpoints.push_back(std::move(*ep));
    }
    if (tls) {
        auto ctx = make_tls_client_context(cluster.ca_file);
        if (!ctx) {
            return make_failure(errc::config_invalid, "cluster.ca_file: " + ctx.error().message);
        }
        if (cluster.cert_file && cluster.key_file) {
            boost::system::error_code ec;
            (*ctx)->use_certificate_chain_file(*cluster.cert_file, ec);
            if (!ec) {
                (*ctx)->use_private_key_file(*cluster.key_file, net::ssl::context::pem, ec);
            }
            if (ec) {
                return make_failure(errc::config_invalid,
                                    "cluster.cert_file/key_file: cannot use " + *cluster.cert_file +
                                        " with " + *cluster.key_file + ": " + ec.message());
            }
        }
        o.tls = std::move(*ctx);
    }
    if (cluster.username && cluster.password_file) {
        auto password =
            read_secret_file(*cluster.password_file, "the etcd password file", true, env);
        if (!password) {
            return make_failure(errc::config_invalid,
                                "cluster.password_file: " + password.error().message);
        }
        o.username = cluster.username;
        o.password = std::move(*password);
    }
    // A member that does not answer in a third of the lease is left for the next one.
    o.call_timeout = std::clamp(cluster.lease_ttl / 3, milliseconds{500}, milliseconds{3'000});
    return o;
}

outcome<cluster_node> open_cluster_node(net::any_io_executor ex, const config& cfg,
                                        const environment& env, token_store& local,
                                        const logger& log) {
    auto cipher = state_cipher::from_key_file(cfg.cluster.encryption_key_file);
    if (!cipher) {
        return make_failure(errc::config_invalid,
                            "cluster.encryption_key_file: " + cipher.error().message);
    }
    auto etcd = etcd_options_for(cfg.cluster, env);
    if (!etcd) {
        return etcd.error();
    }
    cluster_node node;
    if (cfg.proxy.enabled) {
        node.budget = std::make_unique<etcd_budget>(ex, *etcd, cfg.cluster.name, cfg.proxy.budget,
                                                    cfg.proxy.window);
    }
    node.member = std::make_unique<cluster_member>(
        std::move(ex), cfg.cluster, cfg.refresh.request_timeout, std::move(*etcd),
        std::move(*cipher), credential_fingerprint(cfg.priava), local, log);
    node.store = std::make_unique<cluster_store>(*node.member, local);
    return node;
}

} // namespace priava_tokend
