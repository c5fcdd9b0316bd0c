#include <priava_tokend/api/socket_server.hpp>
#include <priava_tokend/api/unix_listener.hpp>
#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/core/version.hpp>
#include <priava_tokend/daemon/daemon.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>
#include <priava_tokend/daemon/sd_notify.hpp>
#include <priava_tokend/daemon/socket_activation.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/state_lock.hpp>
#include <priava_tokend/keeper/token_keeper.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <csignal>
#include <cstdlib>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

using clock = std::chrono::steady_clock;

/// How long shutdown waits for connections to finish their responses.
constexpr std::chrono::seconds drain_timeout{5};

keeper_settings settings_for(const config& cfg, priava_connection connection) {
    return keeper_settings{cfg.refresh,
                           cfg.state.path,
                           credential_fingerprint(cfg.priava),
                           cfg.bootstrap.code_file,
                           cfg.priava.region,
                           std::move(connection.client),
                           std::move(connection.credentials)};
}

server_limits limits_for(const config& cfg) {
    server_limits limits;
    limits.max_connections = cfg.listen.max_connections;
    limits.allow_uids = cfg.listen.allow_uids;
    limits.allow_gids = cfg.listen.allow_gids;
    return limits;
}

/// One running daemon: the keeper, the server and the supervisor glue around them.
class daemon_process {
  public:
    daemon_process(net::io_context& io, config cfg, priava_connection connection,
                   config_location where, environment env, logger& log, sd_notifier notify,
                   const unix_listener& listener)
        : io_(io)
        , cfg_(std::move(cfg))
        , socket_name_(listener.path.empty() ? "the socket from systemd" : listener.path)
        , where_(std::move(where))
        , env_(std::move(env))
        , log_(log)
        , notify_(std::move(notify))
        , keeper_(io.get_executor(), settings_for(cfg_, std::move(connection)), log)
        , api_(keeper_, log, cfg_.state.path)
        , server_(io.get_executor(), listener.fd, api_, log, limits_for(cfg_)) {
        keeper_.on_change([this] { report(); });
    }

    token_keeper& keeper() { return keeper_; }

    void start() {
        net::co_spawn(io_, keeper_.run(), [this](std::exception_ptr e) {
            keeper_done_ = true;
            if (e) {
                log_.error("the refresh loop failed unexpectedly; exiting");
                abandoned_ = true;
                io_.stop();
            }
        });
        net::co_spawn(io_, server_.run(), net::detached);
        net::co_spawn(io_, signals(), net::detached);
        if (notify_.watchdog_interval()) {
            net::co_spawn(io_, watchdog(*notify_.watchdog_interval()), net::detached);
        }
        report();
    }

    /// True when the daemon had to stop with work still pending (run() was interrupted).
    bool abandoned() const noexcept { return abandoned_; }

  private:
    void report() {
        const keeper_status s = keeper_.status();
        std::string message;
        if (!ready_ && keeper_.usable_token() != nullptr) {
            ready_ = true;
            message = "READY=1\n";
            log_.info("ready: serving tokens on " + socket_name_);
        }
        message += "STATUS=" + std::string(to_string(s.state));
        if (s.token != nullptr) {
            message += ", generation " + std::to_string(s.token->generation) + ", expires " +
                       format_rfc3339(s.token->expires_at);
        }
        if (!s.persisted) {
            message += ", state file NOT written";
        }
        notify_.notify(message);
    }

    net::awaitable<void> watchdog(std::chrono::microseconds interval) {
        while (!stopping_) {
            notify_.notify("WATCHDOG=1");
            watchdog_timer_.expires_after(interval);
            co_await watchdog_timer_.async_wait(use_nothrow);
        }
    }

    net::awaitable<void> signals() {
        for (;;) {
            auto [ec, signal] = co_await signal_set_.async_wait(use_nothrow);
            if (ec) {
                co_return;
            }
            if (signal == SIGHUP) {
                // sd_notify's reload protocol: RELOADING=1, then READY=1 once done (either way).
                const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                    clock::now().time_since_epoch());
                notify_.notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(now.count()));
                reload();
                if (ready_) {
                    notify_.notify("READY=1");
                }
                report();
                continue;
            }
            log_.info(std::string("received ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") +
                      "; shutting down");
            co_await shut_down();
            co_return;
        }
    }

    net::awaitable<void> shut_down() {
        stopping_ = true;
        notify_.notify("STOPPING=1");
        server_.stop();
        keeper_.stop();
        watchdog_timer_.cancel();
        co_await server_.drain(clock::now() + drain_timeout);
        // An attempt in flight may have made Priava rotate the refresh token: let it finish and
        // persist. The client's own deadline bounds it; this adds room for the state write.
        const auto deadline = clock::now() + cfg_.refresh.request_timeout + std::chrono::seconds{5};
        net::steady_timer tick(io_);
        while (!keeper_done_ && clock::now() < deadline) {
            tick.expires_after(std::chrono::milliseconds{20});
            co_await tick.async_wait(use_nothrow);
        }
        if (!keeper_done_) {
            log_.error("exiting with a token request still unanswered");
            abandoned_ = true;
            io_.stop();
        }
        // Otherwise every coroutine has ended or is ending, and io_context::run returns by itself.
    }

    void reload() {
        log_.info("SIGHUP: reloading " + where_.path);
        auto loaded = load_config(where_, env_);
        for (const auto& p : loaded.problems) {
            log_.error("config: " + p.key + ": " + p.message + " (fix: " + p.fix + ")");
        }
        if (!loaded.problems.empty()) {
            log_.error("configuration not reloaded; the previous one stays in force");
            return;
        }
        config& next = loaded.values;
        if (credential_fingerprint(next.priava) != credential_fingerprint(cfg_.priava)) {
            log_.error("token_url, client_id or region changed: that is another credential, which "
                       "needs a restart with its own state file; configuration not reloaded");
            return;
        }
        if (next.state.path != cfg_.state.path || next.listen.socket != cfg_.listen.socket ||
            next.listen.mode != cfg_.listen.mode || next.listen.group != cfg_.listen.group) {
            log_.warning("state.path and listen.socket/mode/group take effect at the next start");
            next.state = cfg_.state;
            next.listen.socket = cfg_.listen.socket;
            next.listen.mode = cfg_.listen.mode;
            next.listen.group = cfg_.listen.group;
        }
        auto connection = open_priava_connection(next, env_, request_transport::child_process);
        if (!connection) {
            log_.error(connection.error().message + "; configuration not reloaded");
            return;
        }
        log_.reconfigure(next.log.format, next.log.level);
        server_.set_limits(limits_for(next));
        cfg_ = std::move(next);
        const std::string secret_source = connection->secret_source;
        keeper_.reconfigure(settings_for(cfg_, std::move(*connection)));
        log_.info("configuration reloaded (client secret from " + secret_source + ")");
    }

    net::io_context& io_;
    config cfg_;
    std::string socket_name_; ///< for the log: the socket may not be the configured one
    config_location where_;
    environment env_;
    logger& log_;
    sd_notifier notify_;
    token_keeper keeper_;
    socket_api api_;
    socket_server server_;
    net::steady_timer watchdog_timer_{io_};
    // Installed here, before start() can send READY=1: a supervisor may signal as soon as it sees
    // READY=1 (`systemctl reload`), and SIGHUP's default action would end the process.
    net::signal_set signal_set_{io_, SIGTERM, SIGINT, SIGHUP};
    bool ready_ = false;
    bool stopping_ = false;
    bool keeper_done_ = false;
    bool abandoned_ = false;
};

/// Lifts the soft descriptor limit to the hard one (1024 by default, 524288 under systemd):
/// max_connections sockets plus the daemon's own files must fit.
void raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

/// Grows the descriptor table to hold `descriptors` at once, while the process has one thread:
/// growing it later, with threads, waits for an RCU grace period at each doubling (about 12 ms
/// each here, 50 ms to reach 1024), which a first burst of clients would otherwise pay.
void reserve_descriptor_table(std::size_t descriptors) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur <= descriptors) {
        return;
    }
    const int fd = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, static_cast<int>(descriptors));
    if (fd >= 0) {
        ::close(fd);
    }
}

void print_problems(const logger& log, const std::vector<config_problem>& problems) {
    for (const auto& p : problems) {
        log.error("config: " + p.key + ": " + p.message + " (fix: " + p.fix + ")");
    }
}

} // namespace

int run_daemon(const config_location& where, const environment& env) {
    auto loaded = load_config(where, env);
    logger log(loaded.values.log.format, loaded.values.log.level, logger::stderr_is_journal(env));
    if (!loaded.problems.empty()) {
        print_problems(log, loaded.problems);
        return to_int(exit_code::configuration);
    }
    const config& cfg = loaded.values;
    auto connection = open_priava_connection(cfg, env, request_transport::child_process);
    if (!connection) {
        log.error(connection.error().message);
        return to_int(exit_code::configuration);
    }

    auto lock = state_lock::acquire(cfg.state.path);
    if (!lock) {
        log.error(lock.error().message);
        return to_int(lock.error().code == make_error_code(errc::state_locked)
                          ? exit_code::failed
                          : exit_code::configuration);
    }
    remove_stale_temporaries(cfg.state.path);
    auto stored = read_state_file(cfg.state.path, credential_fingerprint(cfg.priava));
    std::optional<secret> first_code;
    if (!stored) {
        if (stored.error().code != make_error_code(errc::state_missing)) {
            log.error(stored.error().message);
            return to_int(exit_code::configuration);
        }
        if (!cfg.bootstrap.code_file) {
            log.error("no state file at " + cfg.state.path +
                      " and no bootstrap.code_file: run `priava-tokend bootstrap --code-file "
                      "PATH` (or --code -) with an authorization code from Priava (Admin > API "
                      "Access > Access Token) first");
            return to_int(exit_code::configuration);
        }
        auto code = read_secret_file(*cfg.bootstrap.code_file, "authorization code", false, env);
        if (!code) {
            log.error("no state file at " + cfg.state.path +
                      " and bootstrap.code_file: " + code.error().message);
            return to_int(exit_code::configuration);
        }
        first_code = std::move(*code);
    }

    auto activated = activated_socket(env);
    if (!activated) {
        log.error(activated.error().message);
        return to_int(exit_code::configuration);
    }
    auto listener =
        *activated ? inherit_unix_listener(**activated) : create_unix_listener(cfg.listen);
    if (!listener) {
        log.error(listener.error().message);
        return to_int(exit_code::configuration);
    }

    raise_descriptor_limit();
    reserve_descriptor_table(cfg.listen.max_connections + 64);
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN); // a file-size limit makes the state write fail, not the process
    net::io_context io{1};
    const std::string secret_source = connection->secret_source;
    auto process =
        std::make_unique<daemon_process>(io, cfg, std::move(*connection), where, env, log,
                                         sd_notifier::from_environment(env), *listener);
    log.info("priava-tokend " + std::string(version()) + " starting: state " + cfg.state.path +
             ", socket " + (listener->path.empty() ? "from systemd" : listener->path) +
             ", client secret from " + secret_source);
    if (stored) {
        process->keeper().adopt(std::move(*stored));
    } else {
        log.info("no state file yet: exchanging the code from " + *cfg.bootstrap.code_file);
        process->keeper().begin_with_code(std::move(*first_code));
    }
    process->start();
    io.run();
    remove_socket_file(*listener);
    if (process->abandoned()) {
        // Coroutines are still suspended inside objects that are about to go; do not unwind them.
        std::_Exit(to_int(exit_code::failed));
    }
    process.reset();
    log.info("stopped");
    return to_int(exit_code::ok);
}

} // namespace priava_tokend
