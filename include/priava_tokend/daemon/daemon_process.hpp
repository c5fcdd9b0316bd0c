#pragma once

#include <priava_tokend/api/socket_api.hpp>
#include <priava_tokend/api/socket_server.hpp>
#include <priava_tokend/api/unix_listener.hpp>
#include <priava_tokend/cluster/cluster_member.hpp>
#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/core/notifier.hpp>
#include <priava_tokend/daemon/config_reload.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>
#include <priava_tokend/daemon/proxy_service.hpp>
#include <priava_tokend/daemon/sd_notify.hpp>
#include <priava_tokend/keeper/state_lock.hpp>
#include <priava_tokend/keeper/token_keeper.hpp>
#include <priava_tokend/keeper/token_store.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <exception>
#include <string>

namespace priava_tokend {

/// One running daemon: the keeper and the socket server, and the supervisor glue around them:
/// signals (SIGHUP reloads, SIGTERM and SIGINT stop), systemd's notify protocol and watchdog.
///
/// Its long-lived coroutines (the keeper, the accept loop, the signal loop, the watchdog) are
/// supervised: one that ends with an exception, or ends at all before a shutdown was asked, is
/// logged and the daemon stops with exit status 1 (the unit's Restart= starts it again), after
/// letting a token request in flight finish and its new refresh token be written. `WATCHDOG=1`
/// is sent only while the accept loop and the keeper run.
class daemon_process {
  public:
    /// Everything it runs on; owned by the caller and outliving this object.
    struct resources {
        net::io_context& io;
        net::any_io_executor blocking; ///< for file reads and writes, off the event loop
        logger& log;
        token_store& store;
        const unix_listener& listener;
        cluster_member* cluster = nullptr;       ///< in cluster mode; `store` is then its store
        shared_window* cluster_budget = nullptr; ///< in cluster mode with the proxy on
        const state_lock* lock = nullptr;        ///< shared with token request processes
    };

    /// Throws `std::runtime_error` naming the problem when the proxy cannot be set up.
    daemon_process(resources r, config cfg, priava_connection connection, config_location where,
                   environment env, sd_notifier notify);

    token_keeper& keeper() { return keeper_; }

    /// Starts the long-lived coroutines; `io.run()` returns once they all ended.
    void start();

    /// 0 after an orderly stop; 1 after a long-lived coroutine failed or a token request had to
    /// be abandoned.
    int exit_status() const noexcept { return exit_status_; }
    /// True when the daemon had to stop with a token request still unanswered: coroutines are
    /// suspended inside objects about to go, so the caller must not unwind them.
    bool abandoned() const noexcept { return abandoned_; }

  private:
    void supervise(std::string name, net::awaitable<void> task, bool& alive);
    void ended(const std::string& name, const std::exception_ptr& e);
    void report();
    net::awaitable<void> watchdog(std::chrono::microseconds interval);
    net::awaitable<void> signals();
    void start_reload();
    void apply_reload(reload_result r);
    net::awaitable<void> shut_down(int status);

    net::io_context& io_;
    net::any_io_executor blocking_;
    logger& log_;
    config cfg_;
    std::string socket_name_; ///< for the log: the socket may not be the configured one
    config_location where_;
    environment env_;
    sd_notifier notify_;
    cluster_member* cluster_;
    shared_window* cluster_budget_;
    const state_lock* lock_;
    std::unique_ptr<budget_gate> budget_; ///< with the proxy on; the keeper's requests pass it
    token_keeper keeper_;
    socket_api api_;
    socket_server server_;
    std::unique_ptr<proxy_service> proxy_;
    net::steady_timer watchdog_timer_{io_};
    net::steady_timer ready_timer_{io_};
    notifier keeper_done_;
    // Installed here, before start() can send READY=1: a supervisor may signal as soon as it sees
    // READY=1 (`systemctl reload`), and SIGHUP's default action would end the process.
    net::signal_set signal_set_{io_, SIGTERM, SIGINT, SIGHUP};
    bool keeper_alive_ = false;
    bool server_alive_ = false;
    bool tcp_alive_ = false;
    bool cluster_alive_ = false;
    bool signals_alive_ = false;
    bool watchdog_alive_ = false;
    bool ready_ = false;
    bool ready_timeout_passed_ = false;
    bool reloading_ = false;
    bool stopping_ = false;
    bool abandoned_ = false;
    int exit_status_ = 0;
};

} // namespace priava_tokend
