#include <priava_tokend/cli/client_commands.hpp>
#include <priava_tokend/cli/unix_http_client.hpp>
#include <priava_tokend/core/duration.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/core/timestamp.hpp>

#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>

namespace priava_tokend {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

constexpr const char* default_socket_path = "/run/priava-tokend/token.sock";

/// `error_description` of an error body, or the raw status.
std::string describe_error(const http_reply& reply, std::string* error = nullptr) {
    if (const auto o = parse_json_object(reply.body)) {
        const auto* e = string_field(*o, "error");
        if (e != nullptr && error != nullptr) {
            *error = std::string(*e);
        }
        if (const auto* d = string_field(*o, "error_description")) {
            return std::string(*d);
        }
    }
    return "HTTP " + std::to_string(reply.status);
}

int transport_failure(const failure& f, std::ostream& err) {
    err << "priava-tokend: " << f.message << '\n';
    return to_int(f.code == make_error_code(errc::request_timeout) ? exit_code::temporary
                                                                   : exit_code::unavailable);
}

std::string text_or(const json::object& o, std::string_view key, std::string fallback) {
    const auto* v = string_field(o, key);
    return v != nullptr ? std::string(*v) : fallback;
}

std::string when(const json::object& o, std::string_view key) {
    const auto* v = string_field(o, key);
    if (v == nullptr) {
        return "-";
    }
    std::string text(*v);
    if (const auto t = parse_rfc3339(text)) {
        const auto delta =
            std::chrono::floor<std::chrono::seconds>(*t - std::chrono::system_clock::now());
        text += delta.count() >= 0 ? " (in " + describe_seconds(delta) + ")"
                                   : " (" + describe_seconds(-delta) + " ago)";
    }
    return text;
}

/// The body of `api --data`: a file's contents or standard input.
std::optional<std::string> read_data(const command_line& line, std::istream& in,
                                     std::ostream& err) {
    if (!line.data) {
        return std::string{};
    }
    std::ostringstream all;
    if (*line.data == "-") {
        all << in.rdbuf();
        return std::move(all).str();
    }
    const std::string path = line.data->substr(1);
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        err << "priava-tokend: cannot read " << path << ": " << errno_text(errno) << '\n';
        return std::nullopt;
    }
    all << file.rdbuf();
    return std::move(all).str();
}

} // namespace

std::string client_socket_path(const command_line& line, const environment& env) {
    if (line.socket) {
        return *line.socket;
    }
    if (auto path = env.get("PRIAVA_TOKEND_SOCKET"); path && !path->empty()) {
        return *path;
    }
    return default_socket_path;
}

int token_command(const command_line& line, const environment& env, std::ostream& out,
                  std::ostream& err) {
    std::string target = "/v1/token";
    if (line.min_ttl) {
        target += "?min_ttl=" + std::to_string(line.min_ttl->count());
    }
    // A min_ttl request may wait for a refresh, which the daemon bounds by request_timeout.
    const auto timeout =
        line.min_ttl ? std::chrono::milliseconds{15min} : std::chrono::milliseconds{60s};
    const auto reply =
        unix_http_request(client_socket_path(line, env), http::verb::get, target, {}, timeout);
    if (!reply) {
        return transport_failure(reply.error(), err);
    }
    if (reply->status != 200) {
        std::string error;
        const std::string why = describe_error(*reply, &error);
        err << "priava-tokend: no token: " << why << '\n';
        if (error == "reauth_required") {
            return to_int(exit_code::reauth);
        }
        return to_int(reply->status == 503 ? exit_code::unavailable : exit_code::failed);
    }
    const auto o = parse_json_object(reply->body);
    const auto* token = o ? string_field(*o, "access_token") : nullptr;
    if (token == nullptr) {
        err << "priava-tokend: the daemon's reply holds no access_token\n";
        return to_int(exit_code::failed);
    }
    switch (line.format) {
    case token_format::raw:
        out << token->c_str() << '\n';
        break;
    case token_format::header:
        out << "Authorization: Bearer " << token->c_str() << '\n';
        break;
    case token_format::json:
        out << reply->body << '\n';
        break;
    }
    out.flush();
    return to_int(exit_code::ok);
}

int status_command(const command_line& line, const environment& env, std::ostream& out,
                   std::ostream& err) {
    const auto reply = unix_http_request(client_socket_path(line, env), http::verb::get,
                                         "/v1/status", {}, std::chrono::milliseconds{10s});
    if (!reply) {
        return transport_failure(reply.error(), err);
    }
    const auto o = parse_json_object(reply->body);
    if (reply->status != 200 || !o) {
        err << "priava-tokend: unexpected status reply: " << describe_error(*reply) << '\n';
        return to_int(exit_code::failed);
    }
    if (line.json) {
        out << reply->body << '\n';
        return to_int(exit_code::ok);
    }
    const auto number = [&](std::string_view key) {
        const auto* n = o->if_contains(key);
        return n != nullptr && n->is_number() ? std::to_string(n->to_number<std::int64_t>())
                                              : std::string("-");
    };
    out << "state:          " << text_or(*o, "state", "?") << '\n'
        << "token:          generation " << number("generation") << ", expires "
        << when(*o, "expires_at") << '\n'
        << "next refresh:   " << when(*o, "next_refresh_at") << '\n'
        << "last refresh:   " << when(*o, "last_refresh_at") << '\n';
    const auto* last_error = o->if_contains("last_error");
    if (last_error != nullptr && last_error->is_object()) {
        const auto& e = last_error->get_object();
        out << "last error:     " << text_or(e, "error", "?") << ": "
            << text_or(e, "error_description", "") << " (" << when(e, "at") << ")\n";
    } else {
        out << "last error:     none\n";
    }
    out << "failures:       " << number("consecutive_failures") << " in a row\n";
    if (const auto* file = o->if_contains("state_file"); file != nullptr && file->is_object()) {
        const auto& f = file->get_object();
        const auto* persisted = f.if_contains("persisted");
        const bool ok = persisted != nullptr && persisted->is_bool() && persisted->get_bool();
        out << "state file:     " << text_or(f, "path", "?")
            << (ok ? " (up to date)" : " (NOT WRITTEN: " + text_or(f, "error", "?") + ")") << '\n';
    }
    out << "daemon:         version " << text_or(*o, "version", "?") << ", region "
        << text_or(*o, "region", "?") << '\n';
    return to_int(exit_code::ok);
}

int healthcheck_command(const command_line& line, const environment& env, std::ostream& err) {
    const auto reply = unix_http_request(client_socket_path(line, env), http::verb::get, "/readyz",
                                         {}, std::chrono::milliseconds{5s});
    if (!reply) {
        err << "priava-tokend: not healthy: " << reply.error().message << '\n';
        return 1;
    }
    if (reply->status != 200) {
        err << "priava-tokend: not ready: " << describe_error(*reply) << '\n';
        return 1;
    }
    return 0;
}

int api_command(const command_line& line, const environment& env, std::istream& in,
                std::ostream& out, std::ostream& err) {
    std::string method_name = line.operands.at(0);
    std::transform(method_name.begin(), method_name.end(), method_name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    const auto method = http::string_to_verb(method_name);
    if (method == http::verb::unknown) {
        err << "priava-tokend: api: unknown HTTP method '" << method_name.substr(0, 20) << "'\n";
        return to_int(exit_code::usage);
    }
    std::string_view path = line.operands.at(1);
    while (path.starts_with('/')) {
        path.remove_prefix(1);
    }
    const auto body = read_data(line, in, err);
    if (!body) {
        return to_int(exit_code::failed);
    }
    // A call may wait for the budget (max_queue_wait), then for Priava (upstream_timeout).
    const auto reply =
        unix_http_request(client_socket_path(line, env), method, "/v1/proxy/" + std::string(path),
                          *body, 15min, "application/json", &out);
    if (!reply) {
        if (reply.error().code == make_error_code(errc::bad_reply)) {
            err << "priava-tokend: api: " << reply.error().message << '\n';
            return to_int(exit_code::temporary); // the answer broke off; the call may be retried
        }
        return transport_failure(reply.error(), err);
    }
    if (reply->status / 100 == 2) {
        return to_int(exit_code::ok);
    }
    out << reply->body;
    out.flush();
    std::string error;
    const std::string why = describe_error(*reply, &error);
    err << "priava-tokend: api: HTTP " << reply->status << ": " << why << '\n';
    if (error == "reauth_required") {
        return to_int(exit_code::reauth);
    }
    if (error == "token_unavailable") {
        return to_int(exit_code::unavailable);
    }
    const bool later = error == "budget_exhausted" || error == "queue_full" ||
                       error == "shutting_down" || error == "upstream_timeout" ||
                       error == "upstream_unreachable";
    return to_int(later ? exit_code::temporary : exit_code::failed);
}

} // namespace priava_tokend
