#include "proxy_section_reader.hpp"

#include <priava_tokend/core/byte_size.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/priava/token_endpoint.hpp>

namespace priava_tokend {
namespace {

constexpr std::string_view section = "proxy";
constexpr std::string_view token_suffix = "/oauth/token";

/// A duration in [low, high].
void read_span(config_reader& in, std::string_view key, milliseconds low, milliseconds high,
               milliseconds& out) {
    if (auto d = in.duration(section, key, low, high)) {
        out = *d;
    }
}

void read_upstream(config_reader& in, const config::priava_section& priava,
                   config::proxy_section& out) {
    if (auto url = in.text(section, "upstream")) {
        if (auto ep = parse_token_url(*url, "upstream"); !ep) {
            in.problem(section, "upstream", ep.error().message,
                       "e.g. https://api.priava.com/api/rest", in.origin(section, "upstream"));
        } else {
            out.upstream = std::move(*url);
            while (out.upstream.ends_with('/')) {
                out.upstream.pop_back();
            }
        }
        return;
    }
    const std::string_view token_url = priava.token_url;
    if (token_url.ends_with(token_suffix)) {
        out.upstream = std::string(token_url.substr(0, token_url.size() - token_suffix.size()));
    } else if (out.enabled && !token_url.empty()) {
        in.problem(section, "upstream",
                   "cannot be derived from priava.token_url, which does not end in /oauth/token",
                   "set upstream to the base of Priava's REST API, e.g. "
                   "\"https://api.priava.com/api/rest\"");
    }
}

/// `HOST:PORT` with a loopback host: `127.0.0.1:8445`, `[::1]:8445`, `localhost:8445`.
void read_listen_tcp(config_reader& in, config::proxy_section& out) {
    auto value = in.text(section, "listen_tcp");
    if (!value) {
        return;
    }
    const std::string_view text = *value;
    const auto colon = text.rfind(':');
    std::string_view host = colon == std::string_view::npos ? text : text.substr(0, colon);
    const auto port = colon == std::string_view::npos
                          ? std::nullopt
                          : parse_number<std::uint16_t>(text.substr(colon + 1));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (!port || *port == 0 || host.empty()) {
        in.problem(section, "listen_tcp", "'" + *value + "' is not HOST:PORT",
                   "use e.g. \"127.0.0.1:8445\"", in.origin(section, "listen_tcp"));
    } else if (!is_loopback_host(host)) {
        in.problem(section, "listen_tcp",
                   "'" + std::string(host) +
                       "' is not a loopback address: the proxy must not "
                       "be reachable from other hosts",
                   "use 127.0.0.1, [::1] or localhost, and the Unix socket for containers",
                   in.origin(section, "listen_tcp"));
    } else {
        out.listen_tcp = std::move(*value);
    }
}

} // namespace

void read_proxy(config_reader& in, const config::priava_section& priava,
                config::proxy_section& out) {
    if (auto on = in.boolean(section, "enabled")) {
        out.enabled = *on;
    }
    read_upstream(in, priava, out);
    read_count(in, section, "budget", 1, 100'000, out.budget);
    read_span(in, "window", milliseconds{1'000}, milliseconds{86'400'000}, out.window);
    read_span(in, "max_queue_wait", milliseconds{0}, milliseconds{3'600'000}, out.max_queue_wait);
    read_count(in, section, "max_queued", 0, 1'000'000, out.max_queued);
    read_count(in, section, "max_concurrent", 1, 1'024, out.max_concurrent);
    if (auto size = in.string(section, "max_request_body")) {
        const auto bytes = parse_byte_size(*size);
        if (!bytes || *bytes > 1024ULL * 1024 * 1024) {
            in.problem(section, "max_request_body", "'" + *size + "' is not a size of at most 1GiB",
                       "write it with a unit, e.g. \"8MiB\"",
                       in.origin(section, "max_request_body"));
        } else {
            out.max_request_body = *bytes;
        }
    }
    read_span(in, "upstream_timeout", milliseconds{1'000}, milliseconds{600'000},
              out.upstream_timeout);
    read_listen_tcp(in, out);
    out.tcp_auth_token_file = in.text(section, "tcp_auth_token_file");
    if (out.listen_tcp && !out.tcp_auth_token_file) {
        in.problem(section, "tcp_auth_token_file", "is required with listen_tcp",
                   "point it at a 0600 file holding a long random string, which clients send "
                   "as Priava-Tokend-Auth");
    }
}

} // namespace priava_tokend
