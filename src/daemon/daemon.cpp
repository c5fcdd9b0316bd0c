#include <priava_tokend/api/unix_listener.hpp>
#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/directory_writers.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/run_to_completion.hpp>
#include <priava_tokend/core/version.hpp>
#include <priava_tokend/daemon/cluster_node.hpp>
#include <priava_tokend/daemon/daemon.hpp>
#include <priava_tokend/daemon/daemon_process.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>
#include <priava_tokend/daemon/process_limits.hpp>
#include <priava_tokend/daemon/socket_activation.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/keeper/state_file_store.hpp>
#include <priava_tokend/keeper/state_lock.hpp>
#include <priava_tokend/priava/token_request_process.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <csignal>
#include <cstdlib>

#include <pthread.h>

namespace priava_tokend {
namespace {

/// While one lives, the calling thread blocks every signal, and threads it starts inherit that:
/// signals then reach only the main thread, where the daemon's signal set handles them (and
/// where they are blocked again while it winds down).
class signals_blocked {
  public:
    signals_blocked() {
        sigset_t all;
        sigfillset(&all);
        ::pthread_sigmask(SIG_BLOCK, &all, &saved_);
    }
    ~signals_blocked() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
    signals_blocked(const signals_blocked&) = delete;
    signals_blocked& operator=(const signals_blocked&) = delete;

  private:
    sigset_t saved_{};
};

/// How the daemon begins: with stored state, or with the first code.
struct beginning {
    std::optional<stored_tokens> stored;
    std::optional<secret> first_code;
};

void print_problems(const logger& log, const std::vector<config_problem>& problems) {
    for (const auto& p : problems) {
        log.error("config: " + p.key + ": " + p.message + " (fix: " + p.fix + ")");
    }
}

/// The stored state, or the code to exchange when there is none; a failure names the fix. A
/// cluster node may begin with neither: it takes the cluster's state.
outcome<beginning> find_beginning(const config& cfg, token_store& store, const environment& env) {
    auto stored = store.load();
    if (stored) {
        return beginning{std::move(*stored), std::nullopt};
    }
    if (stored.error().code != make_error_code(errc::state_missing)) {
        return stored.error();
    }
    if (!cfg.bootstrap.code_file && cfg.cluster.enabled()) {
        return beginning{};
    }
    if (!cfg.bootstrap.code_file) {
        return make_failure(errc::state_missing,
                            "no state file at " + cfg.state.path +
                                " and no bootstrap.code_file: run `priava-tokend bootstrap "
                                "--code-file PATH` (or --code -) with an authorization code from "
                                "Priava (Admin > API Access > Access Token) first");
    }
    auto code = read_secret_file(*cfg.bootstrap.code_file,
                                 "the authorization code file (bootstrap.code_file)", false, env);
    if (!code) {
        return make_failure(errc::state_missing,
                            "no state file at " + cfg.state.path +
                                " and bootstrap.code_file: " + code.error().message);
    }
    return beginning{std::nullopt, std::move(*code)};
}

/// Makes this daemon a cluster node and reconciles its state file with etcd's (`begin` becomes
/// the newer of the two). Fails when the shared state cannot be read with this node's key.
outcome<std::optional<cluster_node>> join_cluster(net::io_context& io, const config& cfg,
                                                  const environment& env, token_store& local,
                                                  const logger& log, beginning& begin) {
    auto node = open_cluster_node(io.get_executor(), cfg, env, local, log);
    if (!node) {
        return node.error();
    }
    const auto limit =
        cfg.cluster.etcd_endpoints.size() * cfg.cluster.lease_ttl + std::chrono::seconds{5};
    auto joined = run_to_completion(io, node->member->join(begin.stored), limit);
    if (io.stopped()) {
        io.restart(); // it ran out of work with the join; the daemon's own run comes next
    }
    if (!joined) {
        return make_failure(errc::connection_lost, "cluster: etcd did not answer in time");
    }
    if (!*joined) {
        return joined->error();
    }
    if (**joined) {
        begin.stored = std::move(**joined);
        begin.first_code.reset(); // the cluster's credential, not a new chain
    }
    return std::optional<cluster_node>{std::move(*node)};
}

/// A peer that closed the socket makes a write fail, not the process; so does a file-size
/// limit for the state write.
void ignore_signals_that_would_kill() {
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN);
}

/// The exit status for a failure at start: 1 when a later start may succeed (the state lock is
/// held, etcd did not answer), else 78: the configuration, a file or the shared state is wrong.
exit_code exit_for(const failure& f) {
    for (const errc e : {errc::state_locked, errc::connection_lost, errc::request_timeout}) {
        if (f.code == make_error_code(e)) {
            return exit_code::failed; // another daemon holds the lock; etcd did not answer
        }
    }
    return exit_code::configuration;
}

/// The state lock, before anything reads the state: a token request process of a killed daemon
/// may still hold it while it stores what Priava answered (docs/state-file.md#the-lock).
outcome<state_lock> take_state_lock(const config& cfg, const logger& log) {
    // Not where another user could plant links or take names (docs/operations.md).
    if (auto dirs = check_daemon_directories(cfg.state.path, cfg.listen.socket, true); !dirs) {
        return dirs.error();
    }
    auto lock = state_lock::acquire(cfg.state.path, cfg.refresh.request_timeout + orphan_grace);
    if (lock && lock->waited_for()) {
        log.info("the state lock's owner (pid " + std::to_string(*lock->waited_for()) +
                 ") was gone but a token request process it started still held the lock; waited " +
                 std::to_string(lock->waited().count()) + " ms for it to store Priava's answer");
    }
    return lock;
}

/// The API socket: inherited from systemd, or made here.
outcome<unix_listener> open_listener(const config& cfg, const environment& env) {
    auto activated = activated_socket(env);
    if (!activated) {
        return activated.error();
    }
    return *activated ? inherit_unix_listener(**activated) : create_unix_listener(cfg.listen);
}

/// Runs the daemon until it stops; the process exit status.
int serve(daemon_process::resources r, const config& cfg, priava_connection connection,
          beginning begin, const config_location& where, const environment& env) {
    const std::string secret_source = connection.secret_source;
    std::unique_ptr<daemon_process> process;
    try {
        process = std::make_unique<daemon_process>(r, cfg, std::move(connection), where, env,
                                                   sd_notifier::from_environment(env));
    } catch (const std::runtime_error& e) { // the proxy could not be set up
        r.log.error(e.what());
        return to_int(exit_code::configuration);
    }
    r.log.info("priava-tokend " + std::string(version()) + " starting: state " + cfg.state.path +
               ", socket " + (r.listener.path.empty() ? "from systemd" : r.listener.path) +
               ", client secret from " + secret_source);
    if (begin.stored) {
        process->keeper().adopt(std::move(*begin.stored));
    } else if (begin.first_code) {
        r.log.info("no state file yet: exchanging the code from " + *cfg.bootstrap.code_file);
        process->keeper().begin_with_code(std::move(*begin.first_code));
    } else {
        r.log.info("no state file yet: waiting for the cluster's shared state");
    }
    process->start();
    r.io.run();
    // The signal set goes with the process object and restores the default actions: a second
    // SIGTERM (a supervisor or script repeating itself) must not kill the process while it winds
    // down. Blocked, it stays pending and ends with the process.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (const int s : {SIGTERM, SIGINT, SIGHUP}) {
        sigaddset(&stop_signals, s);
    }
    ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    remove_socket_file(r.listener);
    const int status = process->exit_status();
    if (process->abandoned()) {
        // Coroutines are still suspended inside objects that are about to go; do not unwind them.
        std::_Exit(status);
    }
    process.reset();
    r.log.info(status == 0 ? "stopped" : "stopped after a failure");
    return status;
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
    auto lock = take_state_lock(cfg, log);
    if (!lock) {
        log.error(lock.error().message);
        return to_int(exit_for(lock.error()));
    }
    auto connection =
        open_priava_connection(cfg, env, request_transport::child_process, lock->share());
    if (!connection) {
        log.error(connection.error().message);
        return to_int(exit_code::configuration);
    }
    remove_stale_temporaries(cfg.state.path);
    raise_descriptor_limit();
    reserve_descriptor_table(cfg.listen.max_connections + 64); // before any thread starts
    std::optional<net::thread_pool> blocking;
    {
        const signals_blocked in_its_threads;
        blocking.emplace(2);
    }
    state_file_store store(cfg.state.path, credential_fingerprint(cfg.priava),
                           blocking->get_executor());
    auto begin = find_beginning(cfg, store, env);
    if (!begin) {
        log.error(begin.error().message);
        return to_int(exit_code::configuration);
    }
    ignore_signals_that_would_kill();
    // One thread runs every socket and timer; the helper threads only post completions to it.
    // So the reactor needs no locks of its own (the scheduler keeps its own, for those posts).
    net::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
    // A cluster node joins before its socket exists: one that cannot read the shared state
    // must not look as if it served.
    auto node = cfg.cluster.enabled()
                    ? join_cluster(io, cfg, env, store, log, *begin)
                    : outcome<std::optional<cluster_node>>{std::optional<cluster_node>{}};
    if (!node) {
        log.error(node.error().message);
        return to_int(exit_for(node.error()));
    }
    auto listener = open_listener(cfg, env);
    if (!listener) {
        log.error(listener.error().message);
        return to_int(exit_code::configuration);
    }
    if (!*node) {
        return serve(
            {io, blocking->get_executor(), log, store, *listener, nullptr, nullptr, &*lock}, cfg,
            std::move(*connection), std::move(*begin), where, env);
    }
    return serve({io, blocking->get_executor(), log, *(*node)->store, *listener,
                  (*node)->member.get(), (*node)->budget.get(), &*lock},
                 cfg, std::move(*connection), std::move(*begin), where, env);
}

} // namespace priava_tokend
