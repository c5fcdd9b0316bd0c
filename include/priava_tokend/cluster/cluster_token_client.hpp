#pragma once

#include <priava_tokend/cluster/cluster_member.hpp>
#include <priava_tokend/priava/token_client.hpp>

#include <memory>

namespace priava_tokend {

/// The token client of a cluster node: records the intent in etcd (`cluster_member::
/// begin_request`) before `inner` sends anything to Priava, so that no refresh token is sent
/// twice by the cluster. Without the fence, nothing is sent and the answer is a transient failure.
class cluster_token_client final : public token_client {
  public:
    cluster_token_client(cluster_member& member, std::shared_ptr<const token_client> inner)
        : member_(member)
        , inner_(std::move(inner)) {}

    net::awaitable<token_outcome> request(const secret& body) const override;

  private:
    cluster_member& member_;
    std::shared_ptr<const token_client> inner_;
};

} // namespace priava_tokend
