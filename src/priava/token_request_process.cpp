#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/priava/oauth_client.hpp>
#include <priava_tokend/priava/region.hpp>
#include <priava_tokend/priava/token_request_process.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <istream>
#include <ostream>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

constexpr std::size_t largest_reply = 256 * 1024;
/// Beyond the request's own deadline, for the process to start and to write its answer.
constexpr auto process_grace = 5s;

transient_failure broken(std::string detail) {
    return transient_failure{errc::connection_lost, "token request process: " + std::move(detail),
                             0, std::nullopt, std::nullopt};
}

/// Waits for the child to exit, killing it if it has not within `limit`. Never blocks the
/// thread: a child stuck in the kernel after SIGKILL holds up this request, not the readers.
net::awaitable<int> reap(pid_t pid, clock::duration limit) {
    net::steady_timer tick(co_await net::this_coro::executor);
    const auto deadline = clock::now() + limit;
    bool killed = false;
    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid || (done < 0 && errno != EINTR)) {
            break;
        }
        if (!killed && clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            killed = true;
        }
        tick.expires_after(5ms);
        co_await tick.async_wait(use_nothrow);
    }
    co_return status;
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

} // namespace

token_request_process::token_request_process(std::string executable, token_request_order order)
    : executable_(std::move(executable))
    , order_(std::move(order)) {}

net::awaitable<token_outcome> token_request_process::request(const secret& body) const {
    auto ex = co_await net::this_coro::executor;
    int to_child[2];
    int from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) {
        co_return broken(std::string("pipe: ") + std::strerror(errno));
    }
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
        const int error = errno;
        ::close(to_child[0]);
        ::close(to_child[1]);
        co_return broken(std::string("pipe: ") + std::strerror(error));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3); // no client sockets, no lock file
    char* const argv[] = {const_cast<char*>(executable_.c_str()),
                          const_cast<char*>("token-request"), nullptr};
    pid_t pid = 0;
    const auto env = child_environment();
    const int spawned =
        ::posix_spawn(&pid, executable_.c_str(), &actions, nullptr, argv, env.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(to_child[0]);
    ::close(from_child[1]);
    if (spawned != 0) {
        ::close(to_child[1]);
        ::close(from_child[0]);
        co_return broken("cannot start " + executable_ + ": " + std::strerror(spawned));
    }

    net::posix::stream_descriptor input(ex, to_child[1]);
    net::posix::stream_descriptor output(ex, from_child[0]);
    // One deadline for the whole exchange: past it the child is killed, which ends the read.
    net::steady_timer deadline(ex, order_.timeout + process_grace);
    auto running = std::make_shared<bool>(true); // no kill once reaped: the pid may be reused
    deadline.async_wait([pid, running](boost::system::error_code ec) {
        if (!ec && *running) {
            ::kill(pid, SIGKILL);
        }
    });

    token_request_order order{order_.token_url, order_.region, order_.ca_file,
                              order_.timeout,   body,          ::getpid()};
    const secret text = encode_order(order);
    auto [write_ec, written] = co_await net::async_write(
        input, net::buffer(text.reveal().data(), text.reveal().size()), use_nothrow);
    boost::system::error_code ignored;
    input.close(ignored);

    std::string reply;
    auto [read_ec, read] =
        co_await net::async_read(output, net::dynamic_buffer(reply, largest_reply), use_nothrow);
    output.close(ignored);
    deadline.cancel();
    const int status = co_await reap(pid, 2s);
    *running = false;

    // A complete answer counts whatever the exit status: it may carry a rotated refresh token
    // (the child can be killed at the deadline between writing it and exiting).
    token_outcome outcome = broken("no answer");
    auto decoded = decode_outcome(reply);
    if (decoded) {
        outcome = std::move(*decoded);
    } else if (write_ec) {
        outcome = broken("sending the order failed: " + write_ec.message());
    } else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && reply.empty()) {
        outcome = transient_failure{errc::request_timeout,
                                    "the token request did not finish before request_timeout", 0,
                                    std::nullopt, std::nullopt};
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        outcome = broken(describe_exit(status));
    } else if (read_ec && read_ec != net::error::eof) {
        outcome = broken("reading its answer failed: " + read_ec.message());
    } else {
        outcome = broken(decoded.error().message);
    }
    wipe(reply);
    co_return outcome;
}

int run_token_request(std::istream& in, std::ostream& out, std::ostream& err) {
    std::string text;
    text.resize(64 * 1024);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    const secret guard{std::move(text)};
    auto order = decode_order(guard.reveal());
    if (!order) {
        err << "priava-tokend token-request: " << order.error().message << '\n';
        return to_int(exit_code::usage);
    }
    // Die with the daemon: an orphan finishing its request after a restart would present a
    // refresh token the new daemon may already have used.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (order->parent_pid != 0 && ::getppid() != order->parent_pid) {
        return to_int(exit_code::failed); // the daemon died before the line above
    }
    auto endpoint = parse_token_url(order->token_url);
    if (!endpoint) {
        err << "priava-tokend token-request: " << endpoint.error().message << '\n';
        return to_int(exit_code::usage);
    }
    const auto tenant = parse_region(order->region);
    if (!tenant) {
        err << "priava-tokend token-request: unknown region '" << order->region << "'\n";
        return to_int(exit_code::usage);
    }
    const oauth_client client(std::move(*endpoint), *tenant, order->ca_file, order->timeout);
    net::io_context io{1};
    std::optional<token_outcome> outcome;
    net::co_spawn(io, client.request(order->body), [&](std::exception_ptr e, token_outcome o) {
        if (!e) {
            outcome = std::move(o);
        }
    });
    io.run_for(order->timeout + 2s);
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
