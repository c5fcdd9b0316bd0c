#pragma once

#include <priava_tokend/api/proxy_endpoint.hpp>
#include <priava_tokend/api/socket_api.hpp>
#include <priava_tokend/api/tcp_server.hpp>
#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/environment.hpp>
#include <priava_tokend/core/error.hpp>
#include <priava_tokend/proxy/budget_gate.hpp>
#include <priava_tokend/proxy/upstream_pool.hpp>

#include <memory>

namespace priava_tokend {

/// The API proxy of `[proxy] enabled = true`, put together from the configuration: the
/// upstream pool and the endpoint, on the budget gate the keeper's token requests also pass.
class proxy_service {
  public:
    /// Fails naming `upstream`, `ca_file`, `tcp_auth_token_file` or `listen_tcp` when a part
    /// cannot be made. Serves `api`'s `/v1/proxy/` from then on.
    static outcome<std::unique_ptr<proxy_service>> open(net::any_io_executor ex, const config& cfg,
                                                        token_keeper& keeper, budget_gate& gate,
                                                        socket_api& api, const environment& env,
                                                        const logger& log,
                                                        shared_window* shared = nullptr);

    proxy_endpoint& endpoint() noexcept { return endpoint_; }
    /// The TCP listener of `listen_tcp`, if configured; its `run` is the caller's to supervise.
    tcp_server* tcp() noexcept { return tcp_.get(); }
    /// Shutdown, first: calls waiting for the budget end, and no more are sent.
    void stop_waiting();
    /// Shutdown, after the drain: calls to Priava still running are cut off.
    void cut_off();

    proxy_service(std::unique_ptr<upstream_pool> pool, token_keeper& keeper, budget_gate& gate,
                  proxy_settings settings, const logger& log, shared_window* shared);

  private:
    std::unique_ptr<upstream_pool> pool_;
    budget_gate& gate_;
    proxy_endpoint endpoint_;
    std::unique_ptr<tcp_server> tcp_;
};

/// The budget of `cfg.proxy` (null when the proxy is off).
std::unique_ptr<budget_gate> make_budget_gate(net::any_io_executor ex, const config& cfg);

} // namespace priava_tokend
