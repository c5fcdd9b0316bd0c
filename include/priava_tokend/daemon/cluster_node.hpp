#pragma once

#include <priava_tokend/cluster/cluster_member.hpp>
#include <priava_tokend/cluster/cluster_store.hpp>
#include <priava_tokend/cluster/etcd_budget.hpp>
#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/logger.hpp>

#include <memory>

namespace priava_tokend {

/// This daemon's part in a cluster (docs/cluster.md): the member and the store the keeper
/// writes through. Made only with `[cluster] etcd_endpoints` set.
struct cluster_node {
    std::unique_ptr<cluster_member> member;
    std::unique_ptr<cluster_store> store;
    std::unique_ptr<etcd_budget> budget; ///< with the proxy on: the cluster's budget
};

/// Reads the encryption key and the etcd credentials and makes the node; fails naming the file
/// or setting that is wrong. `local` is the state file's store, which must outlive the node.
outcome<cluster_node> open_cluster_node(net::any_io_executor ex, const config& cfg,
                                        const environment& env, token_store& local,
                                        const logger& log);

/// The etcd client settings of `[cluster]`: endpoints, TLS, and the password read from its file.
outcome<etcd_options> etcd_options_for(const config::cluster_section& cluster,
                                       const environment& env);

} // namespace priava_tokend
