#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/run_to_completion.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/core/unique_fd.hpp>
#include <priava_tokend/priava/oauth_client.hpp>
#include <priava_tokend/priava/region.hpp>
#include <priava_tokend/priava/token_request_process.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <istream>
#include <memory>
#include <ostream>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

// glibc 2.36's <sys/pidfd.h> lacks the extern "C" block C++ needs (fixed in 2.37).
extern "C" {
#include <sys/pidfd.h>
}

extern char** environ;

namespace priava_tokend {

/// A started child: its pid, a pidfd that becomes readable when it exits (and signals exactly
/// this process, whatever happens to the pid), and the parent's ends of its stdin and stdout.
struct token_request_process::child {
    pid_t pid = 0;
    unique_fd exited;
    unique_fd input;
    unique_fd output;
};

namespace {

using namespace std::chrono_literals;
using descriptor = net::posix::stream_descriptor;

constexpr std::size_t largest_reply = 256 * 1024;
/// Beyond the request's own deadline, for the process to start and to write its answer.
constexpr auto process_grace = 5s;

transient_failure broken(std::string detail) {
    return transient_failure{errc::connection_lost, "token request process: " + std::move(detail),
                             0, std::nullopt, std::nullopt};
}

/// The daemon's environment without what concerns only the daemon: the client secret (it may
/// come from PRIAVA_CLIENT_SECRET; the child gets what it needs in its order), the
/// configuration, and systemd's notify, socket and credential variables.
std::vector<char*> child_environment() {
    constexpr std::array<std::string_view, 7> withheld{
        "PRIAVA_",  "NOTIFY_SOCKET=", "LISTEN_", "WATCHDOG_", "CREDENTIALS_DIRECTORY=",
        "MAINPID=", "INVOCATION_ID="};
    std::vector<char*> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view entry(*e);
        if (std::none_of(withheld.begin(), withheld.end(),
                         [&](std::string_view prefix) { return entry.starts_with(prefix); })) {
            env.push_back(*e);
        }
    }
    env.push_back(nullptr);
    return env;
}

std::string describe_exit(int status) {
    if (WIFSIGNALED(status)) {
        return std::string("killed by signal ") + std::to_string(WTERMSIG(status));
    }
    return "exit status " + std::to_string(WEXITSTATUS(status));
}

outcome<std::pair<unique_fd, unique_fd>> make_pipe() {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) {
        return make_failure(errc::connection_lost, "pipe: " + errno_text(errno));
    }
    return std::pair{unique_fd{ends[0]}, unique_fd{ends[1]}};
}

/// `lock`, when valid, becomes the child's `token_request_lock_fd`: the same open file
/// description, so the child holds the daemon's flock for as long as it lives.
outcome<token_request_process::child> spawn(const std::string& executable, int lock) {
    auto to_child = make_pipe();
    auto from_child = make_pipe();
    if (!to_child || !from_child) {
        return to_child ? from_child.error() : to_child.error();
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child->first.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, from_child->second.get(), 1);
    if (lock >= 0) {
        posix_spawn_file_actions_adddup2(&actions, lock, token_request_lock_fd);
    }
    // No client sockets, nothing else of the daemon's.
    posix_spawn_file_actions_addclosefrom_np(&actions, lock >= 0 ? token_request_lock_fd + 1 : 3);
    char* const argv[] = {const_cast<char*>(executable.c_str()), const_cast<char*>("token-request"),
                          nullptr};
    token_request_process::child child;
    const auto env = child_environment();
    const int spawned =
        ::posix_spawn(&child.pid, executable.c_str(), &actions, nullptr, argv, env.data());
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        return make_failure(errc::connection_lost,
                            "cannot start " + executable + ": " + errno_text(spawned));
    }
    // The child is not reaped before this, so its pid cannot have been reused yet.
    child.exited.reset(::pidfd_open(child.pid, 0));
    if (!child.exited.valid()) {
        const int error = errno;
        ::kill(child.pid, SIGKILL);
        ::waitpid(child.pid, nullptr, 0);
        return make_failure(errc::connection_lost, "pidfd_open: " + errno_text(error));
    }
    child.input = std::move(to_child->second);
    child.output = std::move(from_child->first);
    return child;
}

/// What came back from the child, and how it ended.
struct child_result {
    boost::system::error_code write_ec;
    boost::system::error_code read_ec;
    std::string reply;
    int status = 0;
};

/// Sends the order, reads the reply to its end and reaps the child, on events only: the child's
/// exit is its pidfd becoming readable. One deadline covers it all; past it the child is killed,
/// which ends the read.
net::awaitable<child_result> talk_to(token_request_process::child child, const secret& order,
                                     std::chrono::steady_clock::duration limit) {
    auto ex = co_await net::this_coro::executor;
    descriptor input(ex, child.input.release());
    descriptor output(ex, child.output.release());
    // Shared with the deadline's handler, which may run after this coroutine moved on.
    const auto exited = std::make_shared<descriptor>(ex, child.exited.release());
    net::steady_timer deadline(ex, limit);
    deadline.async_wait([exited](boost::system::error_code ec) {
        if (!ec) {
            ::pidfd_send_signal(exited->native_handle(), SIGKILL, nullptr, 0);
        }
    });
    child_result result;
    boost::system::error_code ignored;
    auto [write_ec, written] = co_await net::async_write(
        input, net::buffer(order.reveal().data(), order.reveal().size()), use_nothrow);
    result.write_ec = write_ec;
    input.close(ignored);
    auto [read_ec, read] = co_await net::async_read(
        output, net::dynamic_buffer(result.reply, largest_reply), use_nothrow);
    result.read_ec = read_ec;
    output.close(ignored);
    auto [wait_ec] = co_await exited->async_wait(descriptor::wait_read, use_nothrow);
    deadline.cancel();
    if (wait_ec) { // cancelled: the daemon is going away; do not wait for the child
        ::pidfd_send_signal(exited->native_handle(), SIGKILL, nullptr, 0);
    }
    // Once the pidfd is readable the child has exited, so this does not block.
    ::waitpid(child.pid, &result.status, wait_ec ? WNOHANG : 0);
    co_return result;
}

/// A complete answer counts whatever the exit status: it may carry a rotated refresh token (the
/// child can be killed at the deadline between writing it and exiting, or while it stores it:
/// then the store report is missing, and the daemon stores the tokens itself).
token_outcome judge(child_result& r) {
    const std::string_view reply(r.reply);
    const auto line_end = reply.find('\n');
    auto decoded = decode_outcome(reply.substr(0, line_end));
    if (decoded && line_end != std::string_view::npos) {
        apply_store_report(reply.substr(line_end + 1), *decoded);
    }
    const bool answered = !r.reply.empty();
    wipe(r.reply);
    if (decoded) {
        return std::move(*decoded);
    }
    if (r.write_ec) {
        return broken("sending the order failed: " + r.write_ec.message());
    }
    if (WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL && !answered) {
        return transient_failure{errc::request_timeout,
                                 "the token request did not finish before request_timeout", 0,
                                 std::nullopt, std::nullopt};
    }
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
        return broken(describe_exit(r.status));
    }
    if (r.read_ec && r.read_ec != net::error::eof) {
        return broken("reading its answer failed: " + r.read_ec.message());
    }
    return broken(decoded.error().message);
}

} // namespace

token_request_process::token_request_process(std::string executable, token_request_order order,
                                             unique_fd lock)
    : executable_(std::move(executable))
    , order_(std::move(order))
    , lock_(std::move(lock)) {
    if (auto started = spawn(executable_, lock_.get())) {
        ready_ = std::make_unique<child>(std::move(*started));
    } // else the first request starts one and says why it cannot
}

token_request_process::~token_request_process() {
    if (ready_) {
        // It waits in a read of its stdin and holds nothing: end it now, without waiting on it
        // for more than its exit.
        ::pidfd_send_signal(ready_->exited.get(), SIGKILL, nullptr, 0);
        ::waitpid(ready_->pid, nullptr, 0);
    }
}

outcome<token_request_process::child> token_request_process::take_ready() const {
    if (ready_) {
        child c = std::move(*ready_);
        ready_.reset();
        pollfd gone{c.exited.get(), POLLIN, 0};
        if (::poll(&gone, 1, 0) == 0) {
            return c; // still waiting for its order
        }
        ::waitpid(c.pid, nullptr, 0); // it has exited (killed from outside): start another
    }
    return spawn(executable_, lock_.get());
}

net::awaitable<token_outcome> token_request_process::request(const secret& body) const {
    co_return co_await perform(body, nullptr);
}

net::awaitable<token_outcome> token_request_process::request_and_store(const secret& body,
                                                                       const secret& store) const {
    // Without the lock to hand on, the process could not store: the daemon does.
    const secret* handed = lock_.valid() ? &store : nullptr;
    co_return co_await perform(body, handed);
}

net::awaitable<token_outcome> token_request_process::perform(const secret& body,
                                                             const secret* store) const {
    auto started = take_ready();
    if (!started) {
        co_return broken(started.error().message);
    }
    token_request_order order{order_.token_url, order_.region, order_.ca_file,
                              order_.timeout,   body,          ::getpid()};
    if (store != nullptr) {
        order.store = *store;
    }
    auto result =
        co_await talk_to(std::move(*started), encode_order(order), order_.timeout + process_grace);
    if (auto next = spawn(executable_, lock_.get())) {
        ready_ = std::make_unique<child>(std::move(*next));
    }
    co_return judge(result);
}

// --- the child's side ---------------------------------------------------------------------------

namespace {

/// The order on stdin (at most 64 KiB); empty when the daemon closed stdin without one.
secret read_order(std::istream& in) {
    std::string text;
    text.resize(64 * 1024);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return secret{std::move(text)};
}

/// Sends the order's request; new tokens carry their receipt time.
token_outcome perform_order(const token_request_order& order, const oauth_client& client) {
    net::io_context io{1};
    auto outcome = run_to_completion(io, client.request(order.body), order.timeout + 2s);
    if (!outcome) {
        return transient_failure{errc::request_timeout, "no answer before request_timeout", 0,
                                 std::nullopt, std::nullopt};
    }
    if (auto* t = std::get_if<token_set>(&*outcome)) {
        t->received_at = std::chrono::system_clock::now();
    }
    return std::move(*outcome);
}

/// New tokens, or a refresh token Priava rotated although the rest of its reply was unusable.
bool worth_storing(const token_outcome& result) {
    const auto* f = std::get_if<transient_failure>(&result);
    return std::holds_alternative<token_set>(result) || (f != nullptr && f->rotated_refresh_token);
}

void send_line(std::ostream& out, std::string_view line) {
    out.write(line.data(), static_cast<std::streamsize>(line.size()));
    out.put('\n');
    out.flush();
}

} // namespace

int run_token_request(std::istream& in, std::ostream& out, std::ostream& err,
                      const store_step& store) {
    // Idle, die with the daemon: this process may be started long before it is needed. Stop
    // signals never end it (systemd's stop sends SIGTERM to every process of the unit): a
    // request whose refresh token Priava may have rotated must finish, and the daemon waits
    // for it. A closed pipe or a file-size limit fails a write instead of killing.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (const int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGXFSZ}) {
        std::signal(s, SIG_IGN);
    }
    const secret text = read_order(in);
    if (text.empty()) {
        return 0; // started ahead and not needed after all: the daemon closed our stdin
    }
    auto order = decode_order(text.reveal());
    if (!order) {
        err << "priava-tokend token-request: " << order.error().message << '\n';
        return to_int(exit_code::usage);
    }
    if (order->store) {
        // From here the refresh token may be rotated: outlive the daemon, holding its lock, and
        // store what Priava answers. A daemon that died before this line ended this process.
        ::prctl(PR_SET_PDEATHSIG, 0);
    }
    if (order->parent_pid != 0 && ::getppid() != order->parent_pid) {
        return to_int(exit_code::failed); // the daemon died: nothing was sent
    }
    auto endpoint = parse_token_url(order->token_url);
    const auto tenant = parse_region(order->region);
    if (!endpoint || !tenant) {
        err << "priava-tokend token-request: "
            << (endpoint ? "unknown region '" + order->region + "'" : endpoint.error().message)
            << '\n';
        return to_int(exit_code::usage);
    }
    const oauth_client client(std::move(*endpoint), *tenant, order->ca_file, order->timeout);
    const token_outcome result = perform_order(*order, client);
    // The outcome first: should storing fail or hang, the daemon has the tokens and stores them.
    send_line(out, encode_outcome(result).reveal());
    if (order->store && worth_storing(result)) {
        send_line(out, encode_store_report(store(*order->store, result)));
    }
    return out ? 0 : to_int(exit_code::failed);
}

} // namespace priava_tokend
