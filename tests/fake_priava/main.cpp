// fake-priava: the fake Priava token endpoint as a process, for end-to-end tests and demos.
// See `usage` below and control_api.hpp for the control socket.

#include "control_api.hpp"
#include "fake_priava.hpp"
#include "test_pki.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace net = boost::asio;
using namespace priava_tokend::testing;

constexpr const char* usage =
    "usage: fake-priava --dir DIR [--port N] [--expires-in SECONDS] [--client-id ID]\n"
    "                   [--client-secret-file FILE] [--redirect-uri URI] [--region APAC|EU|US]\n"
    "                   [--code-file FILE] [--plain-http] [--rate-limit N] [--rate-window MS]\n"
    "Serves Priava's token endpoint and a few API endpoints on 127.0.0.1 with a test CA written\n"
    "to DIR/ca.pem, Priava's rate limit (--rate-limit requests per fixed --rate-window; default\n"
    "450 per 300000 ms; 0: none) over both, writes\n"
    "DIR/token_url and DIR/port, prints 'fake-priava listening on URL', and takes commands on\n"
    "DIR/control.sock (HTTP over a Unix socket: POST /code, GET /stats, POST /faults, ...).\n";

constexpr int exit_usage = 64;

struct command_line {
    std::string dir;
    std::uint16_t port = 0;
    std::optional<std::string> code_file;
    std::optional<std::string> client_secret_file;
    bool plain_http = false;
    fake_priava_options options;
};

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <class T>
T number(const std::string& flag, const std::string& text) {
    T value{};
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        throw usage_error(flag + " needs a whole number, not '" + text + "'");
    }
    return value;
}

command_line parse(int argc, char** argv) {
    command_line c;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "--plain-http") {
            c.plain_http = true;
            continue;
        }
        if (flag == "--help" || flag == "-h") {
            std::fputs(usage, stdout);
            std::exit(0);
        }
        if (i + 1 >= argc) {
            throw usage_error("unknown option or missing value: " + flag);
        }
        const std::string value = argv[++i];
        if (flag == "--dir") {
            c.dir = value;
        } else if (flag == "--port") {
            c.port = number<std::uint16_t>(flag, value);
        } else if (flag == "--expires-in") {
            c.options.expires_in = std::chrono::seconds{number<std::uint32_t>(flag, value)};
        } else if (flag == "--client-id") {
            c.options.client_id = value;
        } else if (flag == "--client-secret-file") {
            c.client_secret_file = value;
        } else if (flag == "--redirect-uri") {
            c.options.redirect_uri = value;
        } else if (flag == "--region") {
            if (value != "APAC" && value != "EU" && value != "US") {
                throw usage_error("--region must be APAC, EU or US");
            }
            c.options.region = value;
        } else if (flag == "--rate-limit") {
            c.options.rate_limit = number<unsigned>(flag, value);
        } else if (flag == "--rate-window") {
            c.options.rate_window = std::chrono::milliseconds{number<std::uint32_t>(flag, value)};
            if (c.options.rate_window.count() == 0) {
                throw usage_error("--rate-window must be above 0 ms");
            }
        } else if (flag == "--code-file") {
            c.code_file = value;
        } else {
            throw usage_error("unknown option " + flag);
        }
    }
    if (c.dir.empty()) {
        throw usage_error("--dir is required");
    }
    return c;
}

/// Temporary file, fsync, rename: readers see the whole content or nothing.
void write_atomically(const std::string& path, const std::string& text, mode_t mode) {
    const std::string temp = path + ".tmp." + std::to_string(::getpid());
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    bool ok = fd >= 0 && ::fchmod(fd, mode) == 0;
    for (std::size_t done = 0; ok && done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        ok = n > 0;
        done += ok ? static_cast<std::size_t>(n) : 0;
    }
    ok = ok && ::fsync(fd) == 0;
    if (fd >= 0) {
        ok = ::close(fd) == 0 && ok;
    }
    if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
        ::unlink(temp.c_str());
        throw std::runtime_error("cannot write " + path);
    }
}

/// The secret from `path` without its trailing newline; the default when the file is absent.
void load_client_secret(command_line& c) {
    if (!c.client_secret_file) {
        return;
    }
    std::ifstream in(*c.client_secret_file, std::ios::binary);
    if (!in) {
        return;
    }
    std::ostringstream text;
    text << in.rdbuf();
    std::string secret = text.str();
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
        secret.pop_back();
    }
    c.options.client_secret = std::move(secret);
}

int run(command_line c) {
    load_client_secret(c);
    c.options.log = [](const std::string& line) {
        std::fprintf(stderr, "fake-priava: %s\n", line.c_str());
    };

    net::io_context ioc;
    net::signal_set signals(ioc, SIGTERM, SIGINT);
    std::optional<net::ssl::context> tls;
    std::optional<test_pki> pki;
    if (!c.plain_http) {
        pki.emplace(test_pki::generate());
        pki->write(c.dir);
        tls.emplace(make_server_tls_context(pki->server));
    }
    fake_priava fake(ioc.get_executor(), tls ? &*tls : nullptr, c.options);
    fake.listen(c.port);
    if (c.code_file) {
        write_atomically(*c.code_file, fake.issue_code(), 0600);
    }
    control_api control(ioc.get_executor(), fake, c.dir + "/control.sock");
    if (tls) {
        // Swapping the pair inside the one context changes what new handshakes present.
        control.on_certificate([&](std::string_view name) -> std::string {
            const pem_pair* pair = name == "server"       ? &pki->server
                                   : name == "wrong-host" ? &pki->wrong_host
                                   : name == "expired"    ? &pki->expired
                                   : name == "untrusted"  ? &pki->untrusted
                                                          : nullptr;
            if (pair == nullptr) {
                return "certificate is one of server, wrong-host, expired, untrusted";
            }
            tls->use_certificate_chain(net::buffer(pair->cert_pem));
            tls->use_private_key(net::buffer(pair->key_pem), net::ssl::context::pem);
            return {};
        });
    }
    control.start();
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) {
            control.stop();
            fake.stop();
            ioc.stop();
        }
    });

    write_atomically(c.dir + "/token_url", fake.token_url(), 0644);
    write_atomically(c.dir + "/port", std::to_string(fake.port()), 0644);
    std::printf("fake-priava listening on %s\n", fake.token_url().c_str());
    std::fflush(stdout);

    ioc.run();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    try {
        return run(parse(argc, argv));
    } catch (const usage_error& e) {
        std::fprintf(stderr, "fake-priava: %s\n%s", e.what(), usage);
        return exit_usage;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fake-priava: %s\n", e.what());
        return 1;
    }
}
