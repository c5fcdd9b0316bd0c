#include <priava_tokend/daemon/proxy_service.hpp>
#include <priava_tokend/priava/tls_context.hpp>
#include <priava_tokend/priava/token_endpoint.hpp>

namespace priava_tokend {

std::unique_ptr<budget_gate> make_budget_gate(net::any_io_executor ex, const config& cfg) {
    if (!cfg.proxy.enabled) {
        return nullptr;
    }
    const auto& p = cfg.proxy;
    return std::make_unique<budget_gate>(
        std::move(ex),
        budget_limits{p.budget, p.window, p.max_concurrent, p.max_queued, p.max_queue_wait});
}

outcome<std::unique_ptr<proxy_service>> proxy_service::open(net::any_io_executor ex,
                                                            const config& cfg, token_keeper& keeper,
                                                            budget_gate& gate, const logger& log) {
    auto upstream = parse_token_url(cfg.proxy.upstream, "proxy.upstream");
    if (!upstream) {
        return upstream.error();
    }
    std::shared_ptr<net::ssl::context> tls;
    if (upstream->tls) {
        auto made = make_tls_client_context(cfg.priava.ca_file);
        if (!made) {
            return made.error();
        }
        tls = std::move(*made);
    }
    proxy_settings settings{upstream->target == "/" ? std::string{} : upstream->target,
                            cfg.priava.region, cfg.proxy.max_queue_wait, cfg.proxy.upstream_timeout,
                            cfg.proxy.max_request_body};
    auto pool = std::make_unique<upstream_pool>(std::move(ex), std::move(*upstream), std::move(tls),
                                                cfg.proxy.max_concurrent);
    return std::make_unique<proxy_service>(std::move(pool), keeper, gate, std::move(settings), log);
}

proxy_service::proxy_service(std::unique_ptr<upstream_pool> pool, token_keeper& keeper,
                             budget_gate& gate, proxy_settings settings, const logger& log)
    : pool_(std::move(pool))
    , gate_(gate)
    , endpoint_(keeper, gate, *pool_, std::move(settings), log) {}

void proxy_service::stop_waiting() {
    gate_.close();
}

void proxy_service::cut_off() {
    pool_->close_all();
}

} // namespace priava_tokend
