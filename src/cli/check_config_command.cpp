#include <priava_tokend/cli/check_config_command.hpp>
#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/file_path.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/priava/tls_context.hpp>

#include <ostream>

#include <unistd.h>

namespace priava_tokend {
namespace {

/// Collects what is wrong, each with its key and fix, as check-config prints it.
class findings {
  public:
    explicit findings(std::ostream& err)
        : err_(err) {}

    void add(std::string_view key, std::string_view message, std::string_view fix) {
        ++count_;
        err_ << key << ": " << message << "\n    fix: " << fix << '\n';
    }
    std::size_t count() const noexcept { return count_; }
    std::string counted() const {
        return std::to_string(count_) + " problem" + (count_ == 1 ? "" : "s");
    }

  private:
    std::ostream& err_;
    std::size_t count_ = 0;
};

/// The client secret and `ca_file`; where the secret comes from when it can be read.
std::string check_connection(const config& cfg, const environment& env, findings& found) {
    auto connection = open_priava_connection(cfg, env);
    if (connection) {
        return connection->secret_source;
    }
    const auto& m = connection.error().message;
    const bool ca = m.find("ca_file") != std::string::npos;
    const bool missing = m.starts_with("no client secret");
    found.add(ca ? "priava.ca_file" : "priava.client_secret_file", m,
              ca        ? "point ca_file at a readable PEM file"
              : missing ? "under systemd the secret arrives through LoadCredential= only inside "
                          "the service; check there: systemd-run --pipe -p "
                          "LoadCredential=client_secret:/etc/priava-tokend/client_secret "
                          "priava-tokend check-config"
                        : "make the file readable by the daemon's user and private (chmod 600)");
    return {};
}

void check_files(const config& cfg, const environment& env, findings& found) {
    if (cfg.priava.ca_file) {
        if (auto ctx = make_tls_client_context(cfg.priava.ca_file); !ctx) {
            found.add("priava.ca_file", ctx.error().message,
                      "point ca_file at a readable PEM file");
        }
    }
    if (cfg.bootstrap.code_file) {
        auto code = read_secret_file(*cfg.bootstrap.code_file, "authorization code", false, env);
        if (!code && ::access(cfg.bootstrap.code_file->c_str(), F_OK) == 0) {
            found.add("bootstrap.code_file", code.error().message,
                      "put the code from Priava in the file, alone on one line");
        }
    }
    if (cfg.proxy.enabled && cfg.proxy.tcp_auth_token_file) {
        auto token = read_secret_file(*cfg.proxy.tcp_auth_token_file, "TCP auth token", true, env);
        if (!token) {
            found.add("proxy.tcp_auth_token_file", token.error().message,
                      "put a long random string in it (openssl rand -hex 32) and chmod 600");
        }
    }
}

/// The state file and the directories the daemon writes to; a one-line summary of the state.
std::string check_places(const config& cfg, findings& found) {
    std::string summary = "none yet (run bootstrap, or set bootstrap.code_file)";
    if (auto stored = read_state_file(cfg.state.path, credential_fingerprint(cfg.priava))) {
        summary =
            "generation " + std::to_string(stored->generation) + ", access token " +
            (stored->expires_at > std::chrono::system_clock::now() ? "expires " : "expired ") +
            format_rfc3339(stored->expires_at);
    } else if (stored.error().code != make_error_code(errc::state_missing)) {
        found.add("state.path", stored.error().message,
                  "see the message; the daemon refuses to start until this is fixed");
    }
    const std::string state_dir = directory_of(cfg.state.path);
    if (::access(state_dir.c_str(), W_OK) != 0) {
        found.add("state.path", "directory " + state_dir + " is missing or not writable",
                  "create it for the daemon's user (systemd: StateDirectory=priava-tokend)");
    }
    const std::string socket_dir = directory_of(cfg.listen.socket);
    if (::access(socket_dir.c_str(), W_OK) != 0) {
        found.add("listen.socket", "directory " + socket_dir + " is missing or not writable",
                  "create it, or let systemd's priava-tokend.socket make the socket (the daemon "
                  "then inherits it and needs no directory of its own)");
    }
    return summary;
}

void print_summary(const config& cfg, const config_location& where,
                   const std::string& secret_source, const std::string& state_summary,
                   std::ostream& out) {
    out << "configuration OK (" << where.path << ")\n"
        << "  token_url     " << cfg.priava.token_url << " (TenantRegion "
        << to_string(cfg.priava.region) << ")\n"
        << "  client        " << cfg.priava.client_id << ", secret from " << secret_source << '\n'
        << "  state         " << cfg.state.path << ": " << state_summary << '\n'
        << "  socket        " << cfg.listen.socket << '\n'
        << "  refresh       at " << cfg.refresh.at_lifetime_fraction
        << " of the lifetime, serve_margin " << format_duration(cfg.refresh.serve_margin)
        << ", request_timeout " << format_duration(cfg.refresh.request_timeout) << '\n';
}

} // namespace

int check_config_command(const command_line& line, const environment& env, std::ostream& out,
                         std::ostream& err) {
    const config_location where = locate_config(line.config, env);
    const auto loaded = load_config(where, env);
    findings found(err);
    for (const auto& p : loaded.problems) {
        found.add(p.key, p.message, p.fix);
    }
    if (found.count() > 0) {
        err << found.counted() << " in " << where.path << '\n';
        return to_int(exit_code::configuration);
    }
    const config& cfg = loaded.values;
    const std::string secret_source = check_connection(cfg, env, found);
    check_files(cfg, env, found);
    const std::string state_summary = check_places(cfg, found);
    if (found.count() > 0) {
        err << found.counted() << " found\n";
        return to_int(exit_code::configuration);
    }
    print_summary(cfg, where, secret_source, state_summary, out);
    return to_int(exit_code::ok);
}

} // namespace priava_tokend
