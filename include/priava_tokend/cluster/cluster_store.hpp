#pragma once

#include <priava_tokend/cluster/cluster_member.hpp>
#include <priava_tokend/keeper/token_store.hpp>

namespace priava_tokend {

/// The keeper's store on a cluster node: the node's own state file first (its disaster copy,
/// from which a restarted node recovers a refresh it had not committed), then the fenced commit
/// to etcd. A write counts as done only once etcd has it.
class cluster_store final : public token_store {
  public:
    cluster_store(cluster_member& member, token_store& local)
        : member_(member)
        , local_(local) {}

    outcome<stored_tokens> load() override { return local_.load(); }
    net::awaitable<outcome<void>> save(stored_tokens tokens) override;
    std::string name() const override { return "etcd and " + local_.name(); }

  private:
    cluster_member& member_;
    token_store& local_;
};

} // namespace priava_tokend
