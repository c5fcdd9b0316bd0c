#include <priava_tokend/cli/check_config_command.hpp>
#include <priava_tokend/cli/directory_owner_identity.hpp>
#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/directory_writers.hpp>
#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/file_path.hpp>
#include <priava_tokend/core/run_to_completion.hpp>
#include <priava_tokend/daemon/cluster_node.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/keeper/state_file_store.hpp>
#include <priava_tokend/priava/tls_context.hpp>

#include <boost/asio/io_context.hpp>

#include <ostream>

#include <unistd.h>

namespace priava_tokend {
namespace {

using namespace std::chrono_literals;

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
        auto code =
            read_secret_file(*cfg.bootstrap.code_file,
                             "the authorization code file (bootstrap.code_file)", false, env);
        if (!code && ::access(cfg.bootstrap.code_file->c_str(), F_OK) == 0) {
            found.add("bootstrap.code_file", code.error().message,
                      "put the code from Priava in the file, alone on one line");
        }
    }
    if (cfg.proxy.enabled && cfg.proxy.tcp_auth_token_file) {
        auto token =
            read_secret_file(*cfg.proxy.tcp_auth_token_file,
                             "the TCP auth token file (proxy.tcp_auth_token_file)", true, env);
        if (!token) {
            found.add("proxy.tcp_auth_token_file", token.error().message,
                      "put a long random string in it (openssl rand -hex 32) and chmod 600");
        }
    }
}

/// The state file and its directory; a one-line summary of the state. Root (docs/systemd.md)
/// looks at them as the daemon would: as the directory's owner, the service's user.
std::string check_state_place(const config& cfg, findings& found) {
    const auto as_owner = directory_owner_identity::assume(directory_of(cfg.state.path));
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
    if (auto writers = check_directory_writers(state_dir, "state directory (state.path)");
        !writers) {
        found.add("state.path", writers.error().message, "see the message");
    }
    return summary;
}

/// The state and the directories the daemon writes to; a one-line summary of the state.
std::string check_places(const config& cfg, findings& found) {
    std::string summary = check_state_place(cfg, found);
    const std::string socket_dir = directory_of(cfg.listen.socket);
    if (auto writers = check_directory_writers(socket_dir, "socket directory (listen.socket)");
        !writers) {
        found.add("listen.socket", writers.error().message, "see the message");
    }
    if (::access(socket_dir.c_str(), W_OK) != 0) {
        found.add("listen.socket", "directory " + socket_dir + " is missing or not writable",
                  "create it, or let systemd's priava-tokend.socket make the socket (the daemon "
                  "then inherits it and needs no directory of its own)");
    }
    return summary;
}

std::string shared_state_note(const shared_record& record) {
    switch (record.state) {
    case shared_record::phase::ready:
        return ", decrypts with this key";
    case shared_record::phase::refreshing:
        return ", decrypts with this key; a token request of " +
               std::string(holder_node(record.holder)) + " in flight";
    case shared_record::phase::rejected:
        break;
    }
    return ", decrypts with this key; Priava rejected its refresh token: bootstrap a new code";
}

/// Cluster mode: the key file, the etcd settings, and a read of the shared state through them;
/// a one-line summary.
std::string check_cluster(const config& cfg, const environment& env, findings& found) {
    net::io_context io{1};
    logger log(log_format::text, log_level::error, false);
    state_file_store local(cfg.state.path, credential_fingerprint(cfg.priava), io.get_executor());
    auto node = open_cluster_node(io.get_executor(), cfg, env, local, log);
    if (!node) {
        const auto& m = node.error().message;
        const bool key = m.starts_with("cluster.encryption_key_file");
        found.add(key ? "cluster.encryption_key_file" : "cluster", m,
                  key ? "create it once (openssl rand -base64 32 > FILE; chmod 600 FILE) and copy "
                        "the same file to every node"
                      : "see the message");
        return {};
    }
    const auto limit = cfg.cluster.etcd_endpoints.size() * cfg.cluster.lease_ttl + 5s;
    auto state = run_to_completion(io, node->member->read(), limit);
    if (!state || !*state) {
        const std::string m = state ? state->error().message : "no answer from etcd";
        const bool decrypt =
            state && (state->error().code == make_error_code(errc::state_corrupt) ||
                      state->error().code == make_error_code(errc::state_foreign));
        found.add(decrypt ? "cluster.encryption_key_file" : "cluster.etcd_endpoints", m,
                  decrypt ? "use the same key file and [priava] settings as the other nodes"
                          : "start etcd, list its members' client URLs, or for https:// set "
                            "cluster.ca_file to the CA that signed etcd's certificate");
        return {};
    }
    const auto& record = **state;
    return "'" + cfg.cluster.name + "' on etcd (" +
           std::to_string(cfg.cluster.etcd_endpoints.size()) + " endpoint" +
           (cfg.cluster.etcd_endpoints.size() == 1 ? "" : "s") + "): " +
           (record ? "generation " + std::to_string(record->generation) + shared_state_note(*record)
                   : std::string("no shared state yet (bootstrap on one node)"));
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
    const std::string cluster_summary =
        cfg.cluster.enabled() ? check_cluster(cfg, env, found) : std::string{};
    if (found.count() > 0) {
        err << found.counted() << " found\n";
        return to_int(exit_code::configuration);
    }
    print_summary(cfg, where, secret_source, state_summary, out);
    if (cfg.cluster.enabled()) {
        out << "  cluster       " << cluster_summary << '\n';
    }
    return to_int(exit_code::ok);
}

} // namespace priava_tokend
