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

outcome<token_request_process::child> spawn(const std::string& executable) {
    auto to_child = make_pipe();
    auto from_child = make_pipe();
    if (!to_child || !from_child) {
        return to_child ? from_child.error() : to_child.error();
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child->first.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, from_child->second.get(), 1);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3); // no client sockets, no lock file
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
/// child can be killed at the deadline between writing it and exiting).
token_outcome judge(child_result& r) {
    auto decoded = decode_outcome(r.reply);
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

token_request_process::token_request_process(std::string executable, token_request_order order)
    : executable_(std::move(executable))
    , order_(std::move(order)) {
    if (auto started = spawn(executable_)) {
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
    return spawn(executable_);
}

net::awaitable<token_outcome> token_request_process::request(const secret& body) const {
    auto started = take_ready();
    if (!started) {
        co_return broken(started.error().message);
    }
    const token_request_order order{order_.token_url, order_.region, order_.ca_file,
                                    order_.timeout,   body,          ::getpid()};
    auto result =
        co_await talk_to(std::move(*started), encode_order(order), order_.timeout + process_grace);
    if (auto next = spawn(executable_)) {
        ready_ = std::make_unique<child>(std::move(*next));
    }
    co_return judge(result);
}

int run_token_request(std::istream& in, std::ostream& out, std::ostream& err) {
    // Die with the daemon: an orphan finishing its request after a restart would present a
    // refresh token the new daemon may already have used. Set before the wait for the order:
    // this process may be started long before it is needed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::string text;
    text.resize(64 * 1024);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    const secret guard{std::move(text)};
    if (guard.empty()) {
        return 0; // started ahead and not needed after all: the daemon closed our stdin
    }
    auto order = decode_order(guard.reveal());
    if (!order) {
        err << "priava-tokend token-request: " << order.error().message << '\n';
        return to_int(exit_code::usage);
    }
    if (order->parent_pid != 0 && ::getppid() != order->parent_pid) {
        return to_int(exit_code::failed); // the daemon died before the line above
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
    net::io_context io{1};
    auto outcome = run_to_completion(io, client.request(order->body), order->timeout + 2s);
    if (!outcome) {
        outcome = transient_failure{errc::request_timeout, "no answer before request_timeout", 0,
                                    std::nullopt, std::nullopt};
    }
    const secret reply = encode_outcome(*outcome);
    out.write(reply.reveal().data(), static_cast<std::streamsize>(reply.reveal().size()));
    out.flush();
    return out ? 0 : to_int(exit_code::failed);
}

} // namespace priava_tokend
