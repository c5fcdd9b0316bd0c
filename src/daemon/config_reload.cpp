#include <priava_tokend/daemon/config_reload.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>

namespace priava_tokend {
namespace {

bool same_proxy(const config::proxy_section& a, const config::proxy_section& b) {
    return a.enabled == b.enabled && a.upstream == b.upstream && a.budget == b.budget &&
           a.window == b.window && a.max_queue_wait == b.max_queue_wait &&
           a.max_queued == b.max_queued && a.max_concurrent == b.max_concurrent &&
           a.max_request_body == b.max_request_body && a.upstream_timeout == b.upstream_timeout &&
           a.listen_tcp == b.listen_tcp && a.tcp_auth_token_file == b.tcp_auth_token_file;
}

bool same_cluster(const config::cluster_section& a, const config::cluster_section& b) {
    return a.etcd_endpoints == b.etcd_endpoints && a.name == b.name && a.node == b.node &&
           a.lease_ttl == b.lease_ttl && a.encryption_key_file == b.encryption_key_file &&
           a.ca_file == b.ca_file && a.cert_file == b.cert_file && a.key_file == b.key_file &&
           a.username == b.username && a.password_file == b.password_file;
}

} // namespace

reload_result reload_config(const config_location& where, const environment& env,
                            const config& running, unique_fd lock_for_children) {
    reload_result r;
    auto loaded = load_config(where, env);
    for (const auto& p : loaded.problems) {
        r.errors.push_back("config: " + p.key + ": " + p.message + " (fix: " + p.fix + ")");
    }
    if (!loaded.problems.empty()) {
        return r;
    }
    config& next = loaded.values;
    if (credential_fingerprint(next.priava) != credential_fingerprint(running.priava)) {
        r.errors.emplace_back("token_url, client_id or region changed: that is another "
                              "credential, which needs a restart with its own state file");
        return r;
    }
    if (next.state.path != running.state.path || next.listen.socket != running.listen.socket ||
        next.listen.mode != running.listen.mode || next.listen.group != running.listen.group) {
        r.notes.emplace_back("state.path and listen.socket/mode/group take effect at the next "
                             "start");
        next.state = running.state;
        next.listen.socket = running.listen.socket;
        next.listen.mode = running.listen.mode;
        next.listen.group = running.listen.group;
    }
    if (!same_proxy(next.proxy, running.proxy)) {
        r.notes.emplace_back("the [proxy] section takes effect at the next start");
        next.proxy = running.proxy;
    }
    if (!same_cluster(next.cluster, running.cluster)) {
        r.notes.emplace_back("the [cluster] section takes effect at the next start");
        next.cluster = running.cluster;
    }
    auto connection = open_priava_connection(next, env, request_transport::child_process,
                                             std::move(lock_for_children));
    if (!connection) {
        r.errors.push_back(connection.error().message);
        return r;
    }
    r.values = std::move(next);
    r.connection = std::move(*connection);
    return r;
}

} // namespace priava_tokend
