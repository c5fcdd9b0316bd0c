#pragma once

#include <priava_tokend/cluster/etcd_client.hpp>
#include <priava_tokend/proxy/shared_window.hpp>

#include <cstddef>
#include <string>

namespace priava_tokend {

/// The cluster's budget in etcd: the key `/priava-tokend/<name>/budget` holds the send times of
/// the requests in the last `window` (at most `budget` of them) and the end of a pause after
/// Priava's 429, as plain JSON (`{"sent": [ms, ...], "paused_until": ms}`). Each draw adds its
/// time in a transaction fenced by the key's revision, so nodes drawing at once never exceed
/// the budget together.
class etcd_budget final : public shared_window {
  public:
    etcd_budget(net::any_io_executor ex, etcd_options etcd, const std::string& name,
                std::size_t budget, milliseconds window);

    net::awaitable<draw_result> draw(std::chrono::steady_clock::time_point until) override;
    net::awaitable<void> pause(std::chrono::system_clock::time_point until) override;

  private:
    etcd_client etcd_;
    std::string key_;
    std::size_t budget_;
    milliseconds window_;
};

} // namespace priava_tokend
