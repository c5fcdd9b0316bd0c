#pragma once

#include <string>
#include <string_view>

namespace priava_tokend {

/// What `/v1/status` and the metrics show of a cluster node (docs/cluster.md).
struct cluster_status {
    std::string_view role; ///< "leader", "follower" or "candidate"
    std::string leader;    ///< the leader's node name, empty when none is known
    bool etcd_up = false;
};

} // namespace priava_tokend
