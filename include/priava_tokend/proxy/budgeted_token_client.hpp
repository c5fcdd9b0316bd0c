#pragma once

#include <priava_tokend/priava/token_client.hpp>
#include <priava_tokend/proxy/budget_gate.hpp>
#include <priava_tokend/proxy/shared_window.hpp>

#include <memory>

namespace priava_tokend {

/// The keeper's token requests, counted in the proxy's budget: each waits for a grant (ahead of
/// every API call, and without taking a slot of `max_concurrent`), and a 429 from the token
/// endpoint pauses the API calls too. The keeper still decides when to retry.
class budgeted_token_client final : public token_client {
  public:
    /// `shared`: the cluster's budget, drawn from after the local one (null outside a cluster).
    budgeted_token_client(std::shared_ptr<const token_client> inner, budget_gate& gate,
                          shared_window* shared = nullptr)
        : inner_(std::move(inner))
        , gate_(gate)
        , shared_(shared) {}

    net::awaitable<token_outcome> request(const secret& body) const override;
    net::awaitable<token_outcome> request_and_store(const secret& body,
                                                    const secret& store) const override;

  private:
    /// Through the budget to the inner client; with `store`, its `request_and_store`.
    net::awaitable<token_outcome> through_gate(const secret& body, const secret* store) const;

    std::shared_ptr<const token_client> inner_;
    budget_gate& gate_;
    shared_window* shared_;
};

/// A wall-clock moment (Priava's `retry-after`) on the steady clock, from `now` on both.
std::chrono::steady_clock::time_point
steady_moment(wall_time at, wall_time wall_now, std::chrono::steady_clock::time_point steady_now);

} // namespace priava_tokend
