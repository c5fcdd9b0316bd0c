#include <priava_tokend/cli/bootstrap_command.hpp>
#include <priava_tokend/cli/directory_owner_identity.hpp>
#include <priava_tokend/cli/unix_http_client.hpp>
#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/directory_writers.hpp>
#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/file_path.hpp>
#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/core/run_to_completion.hpp>
#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/core/unique_fd.hpp>
#include <priava_tokend/daemon/cluster_node.hpp>
#include <priava_tokend/daemon/priava_connection.hpp>
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/keeper/state_file_store.hpp>
#include <priava_tokend/keeper/state_lock.hpp>
#include <priava_tokend/priava/form_encoding.hpp>
#include <priava_tokend/priava/token_request_process.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <istream>
#include <ostream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using namespace std::chrono_literals;

/// The exit status for Priava's answer to a code: a dead code needs a new one; a client that
/// Priava does not know is a configuration error.
int exit_for_rejection(std::string_view error) {
    if (error == "invalid_grant") {
        return to_int(exit_code::reauth);
    }
    if (error == "invalid_client" || error == "unauthorized_client") {
        return to_int(exit_code::configuration);
    }
    return to_int(exit_code::failed);
}

outcome<secret> read_code(const command_line& line, const environment& env, std::istream& in) {
    if (line.code_file) {
        return read_secret_file(*line.code_file, "the authorization code file (--code-file)", false,
                                env);
    }
    std::string text(largest_secret_text + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    return secret_from_text(std::move(text), "the code on standard input");
}

/// Runs `step` as the owner of the state directory when root runs bootstrap into a directory
/// of the service's user (directory_owner_identity): every file made, opened or replaced there
/// is made by that user, so no link planted there can make root write elsewhere.
template <class Step>
auto as_state_owner(const config& cfg, Step step) -> decltype(step()) {
    auto identity = directory_owner_identity::assume(directory_of(cfg.state.path));
    if (!identity) {
        return identity.error();
    }
    return step();
}

/// The state lock, taken as the directory's owner once the directories are safe
/// (docs/operations.md). A token request process of a killed daemon may still hold the lock: it
/// is let store first.
outcome<state_lock> lock_state(const config& cfg) {
    if (auto dirs = check_daemon_directories(cfg.state.path, cfg.listen.socket, false); !dirs) {
        return dirs.error();
    }
    return as_state_owner(cfg, [&] {
        return state_lock::acquire(cfg.state.path, cfg.refresh.request_timeout + orphan_grace);
    });
}

/// Checks before spending the single-use code that the state file can be written at all.
outcome<void> check_writable(const std::string& state_path) {
    const std::string probe = directory_of(state_path) + "/." + base_name(state_path) + ".probe-" +
                              std::to_string(::getpid());
    // A new file or nothing: never one that is there already (a link, a FIFO).
    const unique_fd fd{
        ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (!fd.valid()) {
        return make_failure(errc::state_write_failed, "cannot write beside state file " +
                                                          state_path + ": " + errno_text(errno) +
                                                          "; fix this before spending the code");
    }
    ::unlink(probe.c_str());
    return {};
}

/// Tells how the daemon answered a code handed over the socket; the exit status.
int told_by_daemon(const http_reply& reply, const std::string& daemon, std::ostream& out,
                   std::ostream& err) {
    const auto o = parse_json_object(reply.body);
    const auto field = [&](std::string_view key) {
        const auto* f = o ? string_field(*o, key) : nullptr;
        return f != nullptr ? std::string(*f) : std::string{};
    };
    if (reply.status == 200) {
        const auto* generation = o ? o->if_contains("generation") : nullptr;
        out << daemon << " exchanged the code: token generation "
            << (generation != nullptr ? boost::json::serialize(*generation) : std::string("?"))
            << ", expires " << field("expires_at") << '\n';
        return to_int(exit_code::ok);
    }
    err << "priava-tokend: " << daemon << " did not bootstrap: " << field("error_description")
        << '\n';
    switch (reply.status) {
    case 422:
        return exit_for_rejection(field("priava_error"));
    case 503:
        return to_int(exit_code::temporary);
    default:
        return to_int(exit_code::failed);
    }
}

/// Hands the code to the daemon that holds the state lock.
int through_daemon(const config& cfg, pid_t holder, const secret& code, bool force,
                   std::ostream& out, std::ostream& err) {
    std::string body;
    append_form_field(body, "code", code.reveal());
    if (force) {
        append_form_field(body, "force", "1");
    }
    const secret guard{std::move(body)};
    const auto timeout = std::chrono::milliseconds{2 * cfg.refresh.request_timeout + 15s};
    const auto reply = unix_http_request_to_daemon(cfg.listen.socket, holder, "/v1/bootstrap",
                                                   guard.reveal(), timeout);
    const std::string daemon = "the running daemon (pid " + std::to_string(holder) + ")";
    if (!reply) {
        err << "priava-tokend: " << daemon << " holds " << cfg.state.path
            << " but cannot be reached: " << reply.error().message << '\n';
        return to_int(exit_code::unavailable);
    }
    return told_by_daemon(*reply, daemon, out, err);
}

/// The generation the new state starts at, or why the existing one must not be replaced.
outcome<std::uint64_t> first_generation(const config& cfg, bool force) {
    auto existing = read_state_file(cfg.state.path, credential_fingerprint(cfg.priava));
    if (existing) {
        if (!force) {
            return make_failure(errc::config_invalid,
                                cfg.state.path + " already holds this credential (generation " +
                                    std::to_string(existing->generation) +
                                    "); use --force to replace it once the new code has been "
                                    "exchanged");
        }
        return existing->generation + 1;
    }
    if (existing.error().code != make_error_code(errc::state_missing) && !force) {
        return make_failure(errc::config_invalid,
                            existing.error().message +
                                "; use --force to replace it once the new code has been "
                                "exchanged");
    }
    return std::uint64_t{1};
}

/// Priava's answer to the code, told on `err` unless it brought tokens; the exit status then.
std::optional<int> unless_tokens(const token_outcome& outcome, const secret& code,
                                 const priava_connection& connection, std::ostream& err) {
    if (const auto* r = std::get_if<rejection>(&outcome)) {
        const std::initializer_list<const secret*> secrets{&code,
                                                           &connection.credentials.client_secret};
        err << "priava-tokend: Priava rejected the authorization code ("
            << quote_outside_text(r->error, secrets, 100) << ": "
            << quote_outside_text(r->description, secrets) << ")"
            << (r->error == "invalid_grant"
                    ? "; make a new code in Priava (Admin > API Access > Access Token)"
                    : "")
            << '\n';
        return exit_for_rejection(r->error);
    }
    if (const auto* f = std::get_if<transient_failure>(&outcome)) {
        err << "priava-tokend: the code exchange failed: " << f->detail << "; try again\n";
        return to_int(exit_code::temporary);
    }
    if (!std::get<token_set>(outcome).refresh_token) {
        err << "priava-tokend: Priava returned no refresh token for the code, so the daemon "
               "could not keep the token fresh; nothing written\n";
        return to_int(exit_code::failed);
    }
    return std::nullopt;
}

/// What the code's exchange brought, as the state stores it; takes the tokens.
stored_tokens exchanged(token_set& tokens, const secret& code, std::uint64_t generation) {
    const auto now = std::chrono::system_clock::now();
    return stored_tokens{std::move(*tokens.refresh_token),
                         std::move(tokens.access_token),
                         now + tokens.expires_in,
                         now,
                         generation,
                         sha256_hex(code.reveal())};
}

/// Exchanges the code in this process and writes the state file.
int exchange_here(const config& cfg, const priava_connection& connection, const secret& code,
                  std::uint64_t generation, std::ostream& out, std::ostream& err) {
    net::io_context io{1};
    const secret body =
        token_request_body(connection.credentials, grant_type::authorization_code, code);
    auto outcome =
        run_to_completion(io, connection.client->request(body), cfg.refresh.request_timeout + 5s);
    if (!outcome) {
        err << "priava-tokend: no answer from Priava within request_timeout\n";
        return to_int(exit_code::temporary);
    }
    if (const auto status = unless_tokens(*outcome, code, connection, err)) {
        return *status;
    }
    auto& tokens = std::get<token_set>(*outcome);
    const stored_tokens stored = exchanged(tokens, code, generation);
    const auto text = encode_state(stored, credential_fingerprint(cfg.priava));
    const auto written =
        as_state_owner(cfg, [&] { return write_state_file(cfg.state.path, text); });
    if (!written) {
        err << "priava-tokend: the code was exchanged but " << written.error().message
            << "; the new tokens are lost: fix this and bootstrap with a new code\n";
        return to_int(exit_code::failed);
    }
    out << "bootstrapped: state written to " << cfg.state.path << "; the access token expires "
        << format_rfc3339(stored.expires_at) << " (in " << describe_seconds(tokens.expires_in)
        << ")\n";
    return to_int(exit_code::ok);
}

void refuse_replacing(const config& cfg, const shared_record& before, std::ostream& err) {
    err << "priava-tokend: the cluster '" << cfg.cluster.name
        << "' already holds this credential (generation " << before.generation
        << (before.state == shared_record::phase::refreshing
                ? ", with a token request of node " + std::string(holder_node(before.holder)) +
                      " in flight"
                : std::string{})
        << "); use --force to replace it once the new code has been exchanged\n";
}

/// The new chain: the node's own copy first (a daemon started here commits it if this process
/// cannot), then the commit over the intent.
int commit_exchanged(const config& cfg, net::io_context& io, cluster_member& member,
                     token_set& tokens, const secret& code, std::uint64_t generation,
                     bool write_local, std::ostream& out, std::ostream& err) {
    const stored_tokens stored = exchanged(tokens, code, generation);
    // The daemon running here writes its own copy when it takes the commit.
    const bool written =
        write_local &&
        as_state_owner(cfg, [&] {
            return write_state_file(cfg.state.path,
                                    encode_state(stored, credential_fingerprint(cfg.priava)));
        }).has_value();
    const auto limit = cfg.cluster.etcd_endpoints.size() * cfg.cluster.lease_ttl + 5s;
    auto committed = run_to_completion(io, member.commit(stored), limit);
    if (!committed || !*committed) {
        err << "priava-tokend: the code was exchanged but not committed to etcd ("
            << (committed ? committed->error().message : std::string("no answer")) << "); "
            << (written ? "start the daemon on this node: it commits " + cfg.state.path
                        : "the new tokens are lost: fix etcd and bootstrap with a new code")
            << '\n';
        return to_int(exit_code::failed);
    }
    out << "bootstrapped: generation " << stored.generation << " committed to the cluster '"
        << cfg.cluster.name << "'" << (written ? " and written to " + cfg.state.path : "")
        << "; the access token expires " << format_rfc3339(stored.expires_at) << " (in "
        << describe_seconds(tokens.expires_in) << ")\n";
    return to_int(exit_code::ok);
}

/// Cluster mode with no daemon on this node (docs/cluster.md): the exchange is fenced in etcd
/// like a leader's refresh (an intent first, the commit after), so that no running leader
/// refreshes the old chain meanwhile, and the new chain reaches every node.
int exchange_into_cluster(const config& cfg, const environment& env,
                          const priava_connection& connection, const secret& code, bool force,
                          bool write_local, std::ostream& out, std::ostream& err) {
    net::io_context io{1};
    logger log(log_format::text, log_level::warning, false);
    state_file_store local(cfg.state.path, credential_fingerprint(cfg.priava), io.get_executor());
    auto node = open_cluster_node(io.get_executor(), cfg, env, local, log);
    if (!node) {
        err << "priava-tokend: " << node.error().message << '\n';
        return to_int(exit_code::configuration);
    }
    cluster_member& member = *node->member;
    const auto limit = cfg.cluster.etcd_endpoints.size() * cfg.cluster.lease_ttl + 5s;
    auto current = run_to_completion(io, member.read(), limit);
    if (!current || !*current) {
        err << "priava-tokend: cannot read the cluster's state in etcd: "
            << (current ? current->error().message : std::string("no answer")) << '\n';
        return to_int(exit_code::unavailable);
    }
    const std::optional<shared_record>& before = **current;
    if (before && before->state == shared_record::phase::refreshing &&
        holder_node(before->holder) == member.status().leader) {
        err << "priava-tokend: the cluster's leader " << member.status().leader
            << " has a token request in flight; try again in a few seconds\n";
        return to_int(exit_code::temporary);
    }
    if (before && before->state != shared_record::phase::rejected && !force) {
        refuse_replacing(cfg, *before, err);
        return to_int(exit_code::failed);
    }
    auto fenced = run_to_completion(io, member.begin_bootstrap(), limit);
    if (!fenced || !*fenced) {
        err << "priava-tokend: " << (fenced ? fenced->error().message : "etcd did not answer")
            << "; try again\n";
        return to_int(exit_code::temporary);
    }
    const secret body =
        token_request_body(connection.credentials, grant_type::authorization_code, code);
    auto outcome =
        run_to_completion(io, connection.client->request(body), cfg.refresh.request_timeout + 5s);
    const auto refused = outcome ? unless_tokens(*outcome, code, connection, err)
                                 : std::optional<int>{to_int(exit_code::temporary)};
    if (refused) {
        run_to_completion(io, member.abandon_intent(), limit); // the chain before stays
        return *refused;
    }
    return commit_exchanged(cfg, io, member, std::get<token_set>(*outcome), code,
                            (before ? before->generation : 0) + 1, write_local, out, err);
}

/// Cluster mode: the state of the daemon running here when it does not lead the cluster (it
/// cannot exchange a code then); nothing when it leads, or is not in cluster mode.
std::optional<std::string> follower_here(const config& cfg) {
    if (!cfg.cluster.enabled()) {
        return std::nullopt;
    }
    const auto reply = unix_http_request(cfg.listen.socket, http::verb::get, "/v1/status", {}, 5s);
    const auto o = reply && reply->status == 200 ? parse_json_object(reply->body) : std::nullopt;
    const auto* cluster = o ? o->if_contains("cluster") : nullptr;
    if (cluster == nullptr || !cluster->is_object()) {
        return std::nullopt;
    }
    const auto* role = string_field(cluster->get_object(), "role");
    const auto* state = string_field(*o, "state");
    if (role == nullptr || *role == "leader") {
        return std::nullopt;
    }
    return state != nullptr ? std::string(*state) : std::string{};
}

} // namespace

int bootstrap_command(const command_line& line, const environment& env, std::istream& in,
                      std::ostream& out, std::ostream& err) {
    const auto loaded = load_config(locate_config(line.config, env), env);
    for (const auto& p : loaded.problems) {
        err << "priava-tokend: config: " << p.key << ": " << p.message << " (fix: " << p.fix
            << ")\n";
    }
    if (!loaded.problems.empty()) {
        return to_int(exit_code::configuration);
    }
    const config& cfg = loaded.values;
    auto code = read_code(line, env, in);
    if (!code) {
        err << "priava-tokend: " << code.error().message << '\n';
        return to_int(exit_code::usage);
    }
    auto lock = lock_state(cfg);
    if (!lock) {
        if (lock.error().code == make_error_code(errc::state_locked)) {
            if (const auto follower = follower_here(cfg)) {
                // Only the leader exchanges codes; this one fences the exchange itself.
                auto connection = open_priava_connection(cfg, env);
                if (!connection) {
                    err << "priava-tokend: " << connection.error().message << '\n';
                    return to_int(exit_code::configuration);
                }
                return exchange_into_cluster(cfg, env, *connection, *code,
                                             line.force || *follower == "reauth_required", false,
                                             out, err);
            }
            return through_daemon(cfg, state_lock::holder(cfg.state.path).value_or(0), *code,
                                  line.force, out, err);
        }
        err << "priava-tokend: " << lock.error().message << '\n';
        return to_int(exit_code::configuration);
    }
    auto connection = open_priava_connection(cfg, env);
    if (!connection) {
        err << "priava-tokend: " << connection.error().message << '\n';
        return to_int(exit_code::configuration);
    }
    if (cfg.cluster.enabled()) {
        if (auto writable = as_state_owner(cfg, [&] { return check_writable(cfg.state.path); });
            !writable) {
            err << "priava-tokend: " << writable.error().message << '\n';
            return to_int(exit_code::configuration);
        }
        return exchange_into_cluster(cfg, env, *connection, *code, line.force, true, out, err);
    }
    const auto generation = as_state_owner(cfg, [&] { return first_generation(cfg, line.force); });
    if (!generation) {
        err << "priava-tokend: " << generation.error().message << '\n';
        return to_int(exit_code::failed);
    }
    if (auto writable = as_state_owner(cfg, [&] { return check_writable(cfg.state.path); });
        !writable) {
        err << "priava-tokend: " << writable.error().message << '\n';
        return to_int(exit_code::configuration);
    }
    return exchange_here(cfg, *connection, *code, *generation, out, err);
}

} // namespace priava_tokend
