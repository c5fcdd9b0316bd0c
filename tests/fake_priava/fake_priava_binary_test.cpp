#include "../support/temp_dir.hpp"
#include "test_client.hpp"
#include "test_pki.hpp"

#include <priava_tokend/priava/token_request.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <csignal>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace priava_tokend::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// The fake-priava executable with its stdout on a pipe; killed if the test forgets it.
class child_process {
  public:
    explicit child_process(std::vector<std::string> args) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            throw std::runtime_error("pipe2 failed");
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(fds[1]);
        out_ = fds[0];
        if (rc != 0) {
            pid_ = -1;
            throw std::runtime_error("cannot start " + args[0]);
        }
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(out_);
    }

    /// The next line of stdout without its newline; nothing on end of file or at `deadline`.
    std::optional<std::string> read_line(steady::time_point deadline) {
        for (;;) {
            if (const auto nl = buffered_.find('\n'); nl != std::string::npos) {
                std::string line = buffered_.substr(0, nl);
                buffered_.erase(0, nl + 1);
                return line;
            }
            if (!read_some(deadline)) {
                return std::nullopt;
            }
        }
    }

    /// Waits until stdout closes (the process ended) and returns the exit status; nothing when
    /// `deadline` passes first.
    std::optional<int> wait_exit(steady::time_point deadline) {
        while (read_some(deadline)) {
        }
        if (!eof_) {
            return std::nullopt;
        }
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return status;
    }

    pid_t pid() const noexcept { return pid_; }

  private:
    bool read_some(steady::time_point deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
        pollfd p{out_, POLLIN, 0};
        if (eof_ || left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            return false;
        }
        char chunk[512];
        const ssize_t n = ::read(out_, chunk, sizeof chunk);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buffered_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    pid_t pid_ = -1;
    int out_ = -1;
    bool eof_ = false;
    std::string buffered_;
};

TEST(FakePriavaBinary, ServesTokensTakesControlCommandsAndExitsCleanlyOnSigterm) {
    temp_dir dir;
    const std::string d = dir.path().string();
    write_file(dir.file("secret"), "binary-secret+/=\n");
    child_process fake({FAKE_PRIAVA_BINARY, "--dir", d, "--port", "0", "--code-file",
                        dir.file("code"), "--client-secret-file", dir.file("secret"), "--region",
                        "EU"});
    const auto line = fake.read_line(steady::now() + 20s);
    ASSERT_TRUE(line) << "no 'listening' line";
    const std::string url = read_file(dir.file("token_url"));
    EXPECT_EQ(*line, "fake-priava listening on " + url);
    const std::string port_text = read_file(dir.file("port"));
    EXPECT_EQ(url, "https://127.0.0.1:" + port_text + "/api/rest/oauth/token");
    const auto port = static_cast<std::uint16_t>(std::stoi(port_text));

    struct stat st {};
    ASSERT_EQ(::stat(dir.file("code").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    net::io_context ioc;
    const auto control = [&](std::string method, std::string target, std::string body = "") {
        raw_request r{std::move(method), std::move(target), {}, std::move(body)};
        auto replies = run_task(ioc, exchange_unix(dir.file("control.sock"), {r}));
        return replies && !replies->empty() ? replies->back() : client_reply{};
    };
    auto client_tls = make_client_tls_context(read_file(dir.file("ca.pem")));
    const client_credentials credentials{"test-client", secret{"binary-secret+/="},
                                         "https://my.app.com/oauth2callback"};
    const auto redeem = [&](const std::string& code) {
        const auto body =
            token_request_body(credentials, grant_type::authorization_code, secret{code});
        auto replies = run_task(
            ioc, exchange({port, &client_tls}, {token_request(std::string(body.reveal()), "EU")}));
        return replies && !replies->empty() ? replies->back() : client_reply{};
    };

    EXPECT_EQ(redeem(read_file(dir.file("code"))).status(), 200u);

    const auto code = control("POST", "/code");
    ASSERT_EQ(code.status(), 200u);
    EXPECT_EQ(code.body().size(), 44u);

    const auto stats = control("GET", "/stats");
    ASSERT_EQ(stats.status(), 200u);
    const auto parsed = json::parse(stats.body()).as_object();
    EXPECT_EQ(parsed.at("authorization_code_grants"), 1);
    EXPECT_EQ(parsed.at("last_tenant_region"), "EU");

    EXPECT_EQ(control("POST", "/faults", R"([{"kind":"status","status":503,"count":1}])").status(),
              200u);
    EXPECT_EQ(control("POST", "/faults", R"([{"kind":"bogus"}])").status(), 400u);
    EXPECT_EQ(redeem(code.body()).status(), 503u);

    EXPECT_EQ(control("POST", "/stop-listening").status(), 200u);
    EXPECT_EQ(redeem(code.body()).ec, net::error::connection_refused);
    EXPECT_EQ(control("POST", "/start-listening").status(), 200u);
    EXPECT_EQ(redeem(code.body()).status(), 200u);
    EXPECT_FALSE(control("GET", "/refresh_token").body().empty());

    ASSERT_EQ(::kill(fake.pid(), SIGTERM), 0);
    const auto status = fake.wait_exit(steady::now() + 20s);
    ASSERT_TRUE(status) << "fake-priava did not exit after SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0);
}

} // namespace
} // namespace priava_tokend::testing
