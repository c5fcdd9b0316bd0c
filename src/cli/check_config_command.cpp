#include <priava_tokend/cli/commands.hpp>
#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/priava/tls_context.hpp>

#include <ostream>

#include <unistd.h>

namespace priava_tokend {
namespace {

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

} // namespace

int check_config_command(const command_line& line, const environment& env, std::ostream& out,
                         std::ostream& err) {
    const config_location where = locate_config(line.config, env);
    const auto loaded = load_config(where, env);
    std::size_t problems = 0;
    const auto problem = [&](std::string_view key, std::string_view message, std::string_view fix) {
        ++problems;
        err << key << ": " << message << "\n    fix: " << fix << '\n';
    };
    for (const auto& p : loaded.problems) {
        problem(p.key, p.message, p.fix);
    }
    if (!loaded.problems.empty()) {
        err << problems << " problem" << (problems == 1 ? "" : "s") << " in " << where.path << '\n';
        return to_int(exit_code::configuration);
    }
    const config& cfg = loaded.values;
    std::string secret_source;
    if (auto connection = open_priava_connection(cfg, env); !connection) {
        const auto& m = connection.error().message;
        const bool ca = m.find("ca_file") != std::string::npos;
        const bool missing = m.starts_with("no client secret");
        problem(ca ? "priava.ca_file" : "priava.client_secret_file", m,
                ca ? "point ca_file at a readable PEM file"
                : missing
                    ? "under systemd the secret arrives through LoadCredential= only inside the "
                      "service; check there: systemd-run --pipe -p "
                      "LoadCredential=client_secret:/etc/priava-tokend/client_secret "
                      "priava-tokend check-config"
                    : "make the file readable by the daemon's user and private (chmod 600)");
    } else {
        secret_source = connection->secret_source;
    }
    if (cfg.priava.ca_file) {
        if (auto ctx = make_tls_client_context(cfg.priava.ca_file); !ctx) {
            problem("priava.ca_file", ctx.error().message, "point ca_file at a readable PEM file");
        }
    }
    if (cfg.bootstrap.code_file) {
        if (auto code =
                read_secret_file(*cfg.bootstrap.code_file, "authorization code", false, env);
            !code && ::access(cfg.bootstrap.code_file->c_str(), F_OK) == 0) {
            problem("bootstrap.code_file", code.error().message,
                    "put the code from Priava in the file, alone on one line");
        }
    }
    std::string state_summary = "none yet (run bootstrap, or set bootstrap.code_file)";
    if (auto stored = read_state_file(cfg.state.path, credential_fingerprint(cfg.priava))) {
        state_summary =
            "generation " + std::to_string(stored->generation) + ", access token " +
            (stored->expires_at > std::chrono::system_clock::now() ? "expires " : "expired ") +
            format_rfc3339(stored->expires_at);
    } else if (stored.error().code != make_error_code(errc::state_missing)) {
        problem("state.path", stored.error().message,
                "see the message; the daemon refuses to start until this is fixed");
    }
    const std::string state_dir = directory_of(cfg.state.path);
    if (::access(state_dir.c_str(), W_OK) != 0) {
        problem("state.path", "directory " + state_dir + " is missing or not writable",
                "create it for the daemon's user (systemd: StateDirectory=priava-tokend)");
    }
    const std::string socket_dir = directory_of(cfg.listen.socket);
    if (::access(socket_dir.c_str(), W_OK) != 0) {
        problem("listen.socket", "directory " + socket_dir + " is missing or not writable",
                "create it, or let systemd's priava-tokend.socket make the socket (the daemon then "
                "inherits it and needs no directory of its own)");
    }
    if (problems > 0) {
        err << problems << " problem" << (problems == 1 ? "" : "s") << " found\n";
        return to_int(exit_code::configuration);
    }
    out << "configuration OK (" << where.path << ")\n"
        << "  token_url     " << cfg.priava.token_url << " (TenantRegion "
        << to_string(cfg.priava.region) << ")\n"
        << "  client        " << cfg.priava.client_id << ", secret from " << secret_source << '\n'
        << "  state         " << cfg.state.path << ": " << state_summary << '\n'
        << "  socket        " << cfg.listen.socket << '\n'
        << "  refresh       at " << cfg.refresh.at_lifetime_fraction
        << " of the lifetime, serve_margin " << format_duration(cfg.refresh.serve_margin)
        << ", request_timeout " << format_duration(cfg.refresh.request_timeout) << '\n';
    return to_int(exit_code::ok);
}

} // namespace priava_tokend
