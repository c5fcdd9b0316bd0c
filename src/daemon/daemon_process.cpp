#include <priava_tokend/cluster/cluster_token_client.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/daemon/daemon_process.hpp>
#include <priava_tokend/proxy/budgeted_token_client.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <csignal>

namespace priava_tokend {
namespace {

using clock = std::chrono::steady_clock;

/// How long shutdown waits for connections to finish their responses.
constexpr std::chrono::seconds drain_timeout{5};

keeper_settings settings_for(const config& cfg, priava_connection connection, budget_gate* budget,
                             cluster_member* cluster, shared_window* shared) {
    std::shared_ptr<const token_client> client = std::move(connection.client);
    if (budget != nullptr) {
        client = std::make_shared<budgeted_token_client>(std::move(client), *budget, shared);
    }
    if (cluster != nullptr) { // the fence in etcd comes before anything is sent
        client = std::make_shared<cluster_token_client>(*cluster, std::move(client));
    }
    return keeper_settings{cfg.refresh, cfg.bootstrap.code_file, cfg.priava.region,
                           std::move(client), std::move(connection.credentials)};
}

server_limits limits_for(const config& cfg) {
    server_limits limits;
    limits.max_connections = cfg.listen.max_connections;
    limits.allow_uids = cfg.listen.allow_uids;
    limits.allow_gids = cfg.listen.allow_gids;
    return limits;
}

/// Long polls may hold at most half the connection slots (socket_api::cap_long_polls).
std::size_t long_poll_cap(const config& cfg) {
    return std::max<std::size_t>(1, cfg.listen.max_connections / 2);
}

std::string describe(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "an exception of unknown type";
    }
}

/// Runs on the blocking executor; by-value parameters, so the event loop's copies stay its own.
net::awaitable<reload_result> read_again(config_location where, environment env, config running,
                                         unique_fd lock) {
    co_return reload_config(where, env, running, std::move(lock));
}

} // namespace

daemon_process::daemon_process(resources r, config cfg, priava_connection connection,
                               config_location where, environment env, sd_notifier notify)
    : io_(r.io)
    , blocking_(std::move(r.blocking))
    , log_(r.log)
    , cfg_(std::move(cfg))
    , socket_name_(r.listener.path.empty() ? "the socket from systemd" : r.listener.path)
    , where_(std::move(where))
    , env_(std::move(env))
    , notify_(std::move(notify))
    , cluster_(r.cluster)
    , cluster_budget_(r.cluster_budget)
    , lock_(r.lock)
    , budget_(make_budget_gate(io_.get_executor(), cfg_))
    , keeper_(io_.get_executor(), blocking_,
              settings_for(cfg_, std::move(connection), budget_.get(), r.cluster, r.cluster_budget),
              r.store, r.log)
    , api_(keeper_, r.log, cfg_.state.path)
    , server_(io_.get_executor(), r.listener.fd, api_, r.log, limits_for(cfg_)) {
    keeper_.on_change([this] { report(); });
    api_.show_cluster(cluster_);
    api_.cap_long_polls(long_poll_cap(cfg_));
    if (budget_) {
        auto proxy = proxy_service::open(io_.get_executor(), cfg_, keeper_, *budget_, api_, env_,
                                         log_, cluster_budget_);
        if (!proxy) {
            throw std::runtime_error(proxy.error().message);
        }
        proxy_ = std::move(*proxy);
    }
#ifdef PRIAVA_TOKEND_TEST_HOOKS
    // tests/e2e/test_supervision.py kills the accept loop this way; release builds lack it.
    if (const auto n = env_.get("PRIAVA_TOKEND_TEST_FAIL_ACCEPT_AFTER")) {
        server_.fail_after_accepting(parse_number<std::size_t>(*n).value_or(0));
    }
    if (cluster_ != nullptr && env_.get("PRIAVA_TOKEND_TEST_EXIT_AFTER_INTENT")) {
        cluster_->exit_after_intent();
    }
#endif
}

void daemon_process::start() {
    supervise("refresh loop", keeper_.run(), keeper_alive_);
    supervise("accept loop", server_.run(), server_alive_);
    if (cluster_ != nullptr) {
        supervise("cluster loop", cluster_->run(keeper_), cluster_alive_);
    }
    if (proxy_ && proxy_->tcp() != nullptr) {
        supervise("TCP accept loop", proxy_->tcp()->run(), tcp_alive_);
    }
    supervise("signal loop", signals(), signals_alive_);
    if (const auto interval = notify_.watchdog_interval()) {
        supervise("watchdog", watchdog(*interval), watchdog_alive_);
    }
    ready_timer_.expires_after(cfg_.refresh.ready_timeout);
    ready_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            ready_timeout_passed_ = true;
            report();
        }
    });
    report();
}

void daemon_process::supervise(std::string name, net::awaitable<void> task, bool& alive) {
    alive = true;
    net::co_spawn(io_, std::move(task),
                  [this, name = std::move(name), &alive](const std::exception_ptr& e) {
                      alive = false;
                      ended(name, e);
                  });
}

void daemon_process::ended(const std::string& name, const std::exception_ptr& e) {
    keeper_done_.notify_all(); // a shutdown may be waiting for the keeper
    if (!e && stopping_) {
        return; // the end a shutdown asks for
    }
    log_.error("the " + name + " ended unexpectedly (" +
               (e ? describe(e) : std::string("it returned")) + "); exiting");
    if (!stopping_) {
        net::co_spawn(io_, shut_down(1), net::detached);
    } else {
        exit_status_ = 1;
    }
}

void daemon_process::report() {
    const keeper_status s = keeper_.status();
    std::string message;
    const bool usable = keeper_.usable_token() != nullptr;
    // READY=1 once a token is served, or once it is clear that none comes without a person, or
    // at ready_timeout: a dead credential or an unreachable Priava must not hold up the boot.
    if (!ready_ && (usable || s.state == token_state::reauth_required || ready_timeout_passed_)) {
        ready_ = true;
        ready_timer_.cancel();
        message = "READY=1\n";
        if (usable) {
            log_.info("ready: serving tokens on " + socket_name_);
        } else {
            log_.warning("ready without a usable token (" + std::string(to_string(s.state)) +
                         "); clients on " + socket_name_ + " get 503 until one arrives");
        }
    }
    message += "STATUS=" + std::string(to_string(s.state));
    if (s.token != nullptr) {
        message += ", generation " + std::to_string(s.token->generation) + ", expires " +
                   format_rfc3339(s.token->expires_at);
    }
    if (!usable && s.last_error) {
        // Why no token is served, in the words the log and /v1/status use (redacted already),
        // kept to one short line.
        std::string why = s.last_error->error + ": " + s.last_error->description;
        if (why.size() > 160) {
            why = why.substr(0, 160) + "...";
        }
        std::replace(why.begin(), why.end(), '\n', ' ');
        message += " (" + why + ")";
    }
    if (!s.persisted) {
        message += ", state file NOT written";
    }
    notify_.notify(message);
}

net::awaitable<void> daemon_process::watchdog(std::chrono::microseconds interval) {
    while (!stopping_) {
        // A dead accept loop or keeper must not look alive to systemd.
        if (server_alive_ && keeper_alive_) {
            notify_.notify("WATCHDOG=1");
        }
        watchdog_timer_.expires_after(interval);
        co_await watchdog_timer_.async_wait(use_nothrow);
    }
}

net::awaitable<void> daemon_process::signals() {
    for (;;) {
        auto [ec, signal] = co_await signal_set_.async_wait(use_nothrow);
        if (ec) {
            co_return; // cancelled by a shutdown
        }
        if (signal == SIGHUP) {
            start_reload();
            continue;
        }
        log_.info(std::string("received ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") +
                  "; shutting down");
        co_await shut_down(0);
        co_return;
    }
}

void daemon_process::start_reload() {
    if (reloading_) {
        log_.warning("SIGHUP: a reload is already in progress");
        return;
    }
    reloading_ = true;
    // sd_notify's reload protocol: RELOADING=1, then READY=1 once done (either way).
    const auto now =
        std::chrono::duration_cast<std::chrono::microseconds>(clock::now().time_since_epoch());
    notify_.notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(now.count()));
    log_.info("SIGHUP: reloading " + where_.path);
    net::co_spawn(blocking_,
                  read_again(where_, env_, cfg_, lock_ != nullptr ? lock_->share() : unique_fd{}),
                  net::bind_executor(io_, [this](std::exception_ptr e, reload_result r) {
                      reloading_ = false;
                      if (e) {
                          r.errors.push_back("the reload failed unexpectedly: " + describe(e));
                      }
                      apply_reload(std::move(r));
                      if (ready_ && !stopping_) { // no READY=1 after STOPPING=1
                          notify_.notify("READY=1");
                      }
                      report();
                  }));
}

void daemon_process::apply_reload(reload_result r) {
    for (const auto& note : r.notes) {
        log_.warning(note);
    }
    if (stopping_) {
        return;
    }
    if (!r.errors.empty()) {
        for (const auto& error : r.errors) {
            log_.error(error);
        }
        log_.error("configuration not reloaded; the previous one stays in force");
        return;
    }
    log_.reconfigure(r.values->log.format, r.values->log.level);
    server_.set_limits(limits_for(*r.values));
    api_.cap_long_polls(long_poll_cap(*r.values));
    cfg_ = std::move(*r.values);
    const std::string secret_source = r.connection->secret_source;
    keeper_.reconfigure(
        settings_for(cfg_, std::move(*r.connection), budget_.get(), cluster_, cluster_budget_));
    log_.info("configuration reloaded (client secret from " + secret_source + ")");
}

net::awaitable<void> daemon_process::shut_down(int status) {
    exit_status_ = std::max(exit_status_, status);
    if (stopping_) {
        co_return;
    }
    stopping_ = true;
    notify_.notify("STOPPING=1");
    server_.stop();
    if (proxy_) {
        proxy_->stop_waiting(); // calls still waiting for the budget are not sent
    }
    keeper_.stop();
    watchdog_timer_.cancel();
    ready_timer_.cancel();
    boost::system::error_code ignored;
    signal_set_.cancel(ignored);
    co_await server_.drain(clock::now() + drain_timeout);
    if (proxy_) {
        proxy_->cut_off(); // calls to Priava still running after the drain
    }
    // A request in flight may have made Priava rotate the refresh token: let it finish and be
    // written. The client's own deadline bounds it; this adds room for the write.
    const auto deadline = clock::now() + cfg_.refresh.request_timeout + std::chrono::seconds{5};
    while (keeper_alive_) {
        const bool woken = co_await keeper_done_.wait_until(deadline);
        if (!woken) {
            break;
        }
    }
    if (cluster_ != nullptr) {
        cluster_->stop(); // after the keeper: its last commit may still have been under way
    }
    if (keeper_alive_) {
        log_.error("exiting with a token request still unanswered");
        exit_status_ = 1;
        abandoned_ = true;
        io_.stop();
    }
    // Otherwise every coroutine has ended or is ending, and io_context::run returns by itself.
}

} // namespace priava_tokend
