#include <priava_tokend/config/secret_file.hpp>
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

namespace {

/// The TCP listener of `listen_tcp`, with the token its clients must send.
outcome<std::unique_ptr<tcp_server>> open_tcp(net::any_io_executor ex, const config& cfg,
                                              socket_api& api, const environment& env,
                                              const logger& log) {
    const auto endpoint = loopback_endpoint(*cfg.proxy.listen_tcp);
    if (!endpoint) {
        return make_failure(errc::config_invalid, "proxy.listen_tcp: '" + *cfg.proxy.listen_tcp +
                                                      "' is not a loopback HOST:PORT");
    }
    auto token = read_secret_file(*cfg.proxy.tcp_auth_token_file,
                                  "the TCP auth token file (proxy.tcp_auth_token_file)", true, env);
    if (!token) {
        return make_failure(errc::config_invalid,
                            "proxy.tcp_auth_token_file: " + token.error().message);
    }
    try {
        return std::make_unique<tcp_server>(ex, *endpoint, api, std::move(*token), log,
                                            tcp_server::limits{});
    } catch (const boost::system::system_error& e) {
        return make_failure(errc::config_invalid, "proxy.listen_tcp: cannot listen on " +
                                                      *cfg.proxy.listen_tcp + ": " +
                                                      e.code().message());
    }
}

} // namespace

outcome<std::unique_ptr<proxy_service>>
proxy_service::open(net::any_io_executor ex, const config& cfg, token_keeper& keeper,
                    budget_gate& gate, socket_api& api, const environment& env, const logger& log,
                    shared_window* shared) {
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
    std::unique_ptr<tcp_server> tcp;
    if (cfg.proxy.listen_tcp) {
        auto opened = open_tcp(ex, cfg, api, env, log);
        if (!opened) {
            return opened.error();
        }
        tcp = std::move(*opened);
    }
    auto pool = std::make_unique<upstream_pool>(std::move(ex), std::move(*upstream), std::move(tls),
                                                cfg.proxy.max_concurrent);
    auto service = std::make_unique<proxy_service>(std::move(pool), keeper, gate,
                                                   std::move(settings), log, shared);
    service->tcp_ = std::move(tcp);
    api.serve_proxy(&service->endpoint());
    return service;
}

proxy_service::proxy_service(std::unique_ptr<upstream_pool> pool, token_keeper& keeper,
                             budget_gate& gate, proxy_settings settings, const logger& log,
                             shared_window* shared)
    : pool_(std::move(pool))
    , gate_(gate)
    , endpoint_(keeper, gate, *pool_, std::move(settings), log, shared) {}

void proxy_service::stop_waiting() {
    if (tcp_) {
        tcp_->stop();
    }
    gate_.close();
}

void proxy_service::cut_off() {
    pool_->close_all();
}

} // namespace priava_tokend
