#include "../support/temp_dir.hpp"
#include "../support/token_client_driver.hpp"
#include "fake_priava.hpp"

#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/keeper/delegated_write.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/keeper/state_lock.hpp>
#include <priava_tokend/priava/token_request.hpp>
#include <priava_tokend/priava/token_request_process.hpp>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;
using testing::fake_priava;

class TokenRequestProcess : public ::testing::Test {
  protected:
    TokenRequestProcess() { fake_.listen(); }

    token_outcome request(const std::string& executable, const std::string& grant_value,
                          std::chrono::milliseconds timeout = 5s) {
        const token_request_process client(
            executable,
            token_request_order{fake_.token_url(), "APAC", std::nullopt, timeout, secret{}, 0});
        const client_credentials credentials{"test-client", secret{"test-secret+/="},
                                             "https://my.app.com/oauth2callback"};
        const secret body =
            token_request_body(credentials, grant_type::authorization_code, secret{grant_value});
        return testing::run_request(io_, client, body);
    }

    std::string script(const std::string& name, const std::string& text) {
        const std::string path = dir_.file(name);
        testing::write_file(path, "#!/bin/sh\n" + text + "\n", 0755);
        return path;
    }

    /// Exchanges a new code through a process given `lock` and the daemon's order to store the
    /// answer in the state file at `path` (no state before).
    token_outcome exchange_and_store(unique_fd lock, const std::string& path) {
        const token_request_process client(
            PRIAVA_TOKEND_BINARY,
            token_request_order{fake_.token_url(), "APAC", std::nullopt, 5s, secret{}, 0},
            std::move(lock));
        const client_credentials credentials{"test-client", secret{"test-secret+/="},
                                             "https://my.app.com/oauth2callback"};
        code_ = fake_.issue_code();
        const secret body =
            token_request_body(credentials, grant_type::authorization_code, secret{code_});
        const secret store = encode_delegated_write(
            delegated_write{path, "test-fingerprint", {}, sha256_hex(code_)});
        return testing::run_request_and_store(io_, client, body, store);
    }

    net::io_context io_;
    testing::temp_dir dir_;
    std::string code_;
    fake_priava fake_{io_.get_executor(), nullptr}; // plain HTTP on loopback: the pipe is the point
};

/// The processes this test process started and has not reaped, whichever thread started them.
std::vector<pid_t> children() {
    std::vector<pid_t> pids;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream in(task.path() / "children");
        for (pid_t pid = 0; in >> pid;) {
            pids.push_back(pid);
        }
    }
    return pids;
}

/// Waits, on its pidfd, until `pid` has exited.
bool exited(pid_t pid) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    pollfd gone{fd, POLLIN, 0};
    const bool done = fd >= 0 && ::poll(&gone, 1, 10'000) == 1;
    ::close(fd);
    return done;
}

TEST_F(TokenRequestProcess, TheNextProcessIsStartedAheadAndReplacedWhenItDied) {
    {
        const token_request_process client(
            PRIAVA_TOKEND_BINARY,
            token_request_order{fake_.token_url(), "APAC", std::nullopt, 5s, secret{}, 0});
        const auto ahead = children();
        ASSERT_EQ(ahead.size(), 1u) << "one process started ahead, waiting for its order";
        ::kill(ahead[0], SIGKILL);
        ASSERT_TRUE(exited(ahead[0]));
        const client_credentials credentials{"test-client", secret{"test-secret+/="},
                                             "https://my.app.com/oauth2callback"};
        const token_outcome o =
            testing::run_request(io_, client,
                                 token_request_body(credentials, grant_type::authorization_code,
                                                    secret{fake_.issue_code()}));
        EXPECT_TRUE(std::holds_alternative<token_set>(o)) << "a dead one is replaced";
        const auto next = children();
        ASSERT_EQ(next.size(), 1u) << "the next one is started when a request is done";
        EXPECT_NE(next[0], ahead[0]);
    }
    EXPECT_TRUE(children().empty()) << "the one started ahead ends with the client";
}

TEST_F(TokenRequestProcess, PerformsTheRequestInAChild) {
    const token_outcome o = request(PRIAVA_TOKEND_BINARY, fake_.issue_code());
    const auto* t = std::get_if<token_set>(&o);
    ASSERT_NE(t, nullptr);
    ASSERT_TRUE(t->refresh_token);
    EXPECT_EQ(t->refresh_token->reveal(), fake_.current_refresh_token());
    EXPECT_EQ(fake_.stats().authorization_code_grants, 1);
}

TEST_F(TokenRequestProcess, StoresNewTokensItselfWhileHoldingTheDaemonsLock) {
    const auto path = dir_.file("state.json");
    const auto lock = state_lock::acquire(path);
    ASSERT_TRUE(lock) << lock.error().message;
    const token_outcome o = exchange_and_store(lock->share(), path);
    const auto* t = std::get_if<token_set>(&o);
    ASSERT_NE(t, nullptr);
    EXPECT_TRUE(t->stored);
    ASSERT_TRUE(t->received_at);
    const auto stored = read_state_file(path, "test-fingerprint");
    ASSERT_TRUE(stored) << stored.error().message;
    EXPECT_EQ(stored->refresh_token.reveal(), fake_.current_refresh_token());
    EXPECT_EQ(stored->access_token, t->access_token);
    EXPECT_EQ(stored->generation, 1u);
    EXPECT_LT(std::chrono::abs(stored->received_at - *t->received_at), 1s)
        << "the receipt time the daemon is told is the one stored";
    EXPECT_EQ(stored->bootstrap_code_sha256, sha256_hex(code_));
}

TEST_F(TokenRequestProcess, WithoutTheLockTheStoringIsLeftToTheDaemon) {
    const auto path = dir_.file("state.json");
    const token_outcome o = exchange_and_store(unique_fd{}, path);
    const auto& t = std::get<token_set>(o);
    EXPECT_FALSE(t.stored);
    EXPECT_TRUE(t.received_at);
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(TokenRequestProcess, TheLockOfAnotherStateFileDoesNotLetItStore) {
    const auto path = dir_.file("state.json");
    const auto other = state_lock::acquire(dir_.file("other.json"));
    ASSERT_TRUE(other);
    const token_outcome o = exchange_and_store(other->share(), path);
    EXPECT_FALSE(std::get<token_set>(o).stored);
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(TokenRequestProcess, AStoreThatFailsLeavesTheTokensToTheDaemon) {
    const auto path = dir_.file("state.json");
    const auto lock = state_lock::acquire(path);
    ASSERT_TRUE(lock);
    std::filesystem::create_directory(path); // the rename over it fails
    const token_outcome o = exchange_and_store(lock->share(), path);
    const auto& t = std::get<token_set>(o);
    EXPECT_FALSE(t.stored);
    EXPECT_EQ(t.refresh_token->reveal(), fake_.current_refresh_token()) << "the daemon has it";
}

TEST_F(TokenRequestProcess, RejectionsComeThrough) {
    const token_outcome o = request(PRIAVA_TOKEND_BINARY, "unknown+code=");
    const auto* r = std::get_if<rejection>(&o);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->error, "invalid_grant");
}

TEST_F(TokenRequestProcess, AChildThatFailsIsATransientFailure) {
    const token_outcome o = request(script("fails", "cat >/dev/null; exit 3"), "x");
    const auto& f = std::get<transient_failure>(o);
    EXPECT_EQ(f.reason, errc::connection_lost);
    EXPECT_NE(f.detail.find("exit status 3"), std::string::npos) << f.detail;
}

TEST_F(TokenRequestProcess, AChildThatCrashesIsATransientFailure) {
    const token_outcome o = request(script("crashes", "cat >/dev/null; kill -SEGV $$"), "x");
    const auto& f = std::get<transient_failure>(o);
    EXPECT_NE(f.detail.find("killed by signal 11"), std::string::npos) << f.detail;
}

TEST_F(TokenRequestProcess, AChildThatAnswersGarbageIsATransientFailure) {
    const token_outcome o =
        request(script("garbage", "cat >/dev/null; echo '{\"outcome\":1}'"), "x");
    EXPECT_EQ(std::get<transient_failure>(o).reason, errc::connection_lost);
}

TEST_F(TokenRequestProcess, AHangingChildIsKilledAtTheDeadline) {
    const auto started = std::chrono::steady_clock::now();
    const token_outcome o = request(script("hangs", "exec sleep 60"), "x", 200ms);
    EXPECT_EQ(std::get<transient_failure>(o).reason, errc::request_timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST_F(TokenRequestProcess, AMissingExecutableIsATransientFailure) {
    const token_outcome o = request(dir_.file("absent"), "x");
    EXPECT_NE(std::get<transient_failure>(o).detail.find("cannot start"), std::string::npos);
}

} // namespace
} // namespace priava_tokend
