#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/priava/token_endpoint.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

#include <arpa/inet.h>

namespace priava_tokend {
namespace {

namespace urls = boost::urls;

failure bad_url(std::string what) {
    return make_failure(errc::config_invalid, std::move(what));
}

bool valid_reg_name(std::string_view host) {
    return !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
}

/// The scheme, the host and the port of `u` into `ep`; what is wrong otherwise. Messages never
/// quote user info, which may hold a password.
outcome<void> read_authority(const urls::url_view& u, std::string_view name, token_endpoint& ep) {
    if (u.scheme_id() == urls::scheme::https) {
        ep.tls = true;
    } else if (u.scheme_id() == urls::scheme::http) {
        ep.tls = false;
        ep.port = 80;
    } else {
        return bad_url(std::string(name) + " scheme '" + std::string(u.scheme()) +
                       "' is not https");
    }
    if (u.has_userinfo()) {
        return bad_url(std::string(name) + " must not contain user info ('user@')");
    }
    if (u.host_type() == urls::host_type::ipv6) {
        ep.host = u.host_ipv6_address().to_string();
    } else if (u.host_type() == urls::host_type::ipv4 ||
               (u.host_type() == urls::host_type::name && valid_reg_name(u.encoded_host()))) {
        ep.host = u.encoded_host();
    } else {
        return bad_url(std::string(name) + " host '" + std::string(u.encoded_host()) +
                       "' is not a valid host name");
    }
    if (u.has_port()) {
        const auto port = parse_number<std::uint16_t>(u.port());
        if (!port || *port == 0) {
            return bad_url(std::string(name) + " port '" + std::string(u.port()) +
                           "' is not 1-65535");
        }
        ep.port = *port;
    }
    return {};
}

} // namespace

bool is_loopback_host(std::string_view host) {
    std::string lower(host);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "localhost" || host == "::1") {
        return true;
    }
    in_addr v4{};
    return ::inet_pton(AF_INET, lower.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

outcome<token_endpoint> parse_token_url(std::string_view url, std::string_view name) {
    if (url.find("://") == std::string_view::npos) {
        return bad_url(std::string(name) + " must start with https://");
    }
    if (std::any_of(url.begin(), url.end(),
                    [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
        return bad_url(std::string(name) + " contains a space or control character");
    }
    const auto u = urls::parse_absolute_uri(url);
    if (!u) {
        return bad_url(std::string(name) + " is not a valid URL (" + u.error().message() + ")");
    }
    if (u->has_fragment()) {
        return bad_url(std::string(name) + " must not contain a fragment ('#')");
    }
    token_endpoint ep;
    if (auto ok = read_authority(*u, name, ep); !ok) {
        return ok.error();
    }
    if (!ep.tls && !is_loopback_host(ep.host)) {
        return bad_url(std::string(name) + " uses http:// to '" + ep.host +
                       "'; plain HTTP is only allowed to a loopback host (tests); use https://");
    }
    ep.target = u->encoded_path().empty() ? "/" : std::string(u->encoded_path());
    if (u->has_query()) {
        ep.target += "?" + std::string(u->encoded_query());
    }
    const bool v6 = ep.host.find(':') != std::string::npos;
    ep.host_header = v6 ? "[" + ep.host + "]" : ep.host;
    if (ep.port != (ep.tls ? 443 : 80)) {
        ep.host_header += ":" + std::to_string(ep.port);
    }
    return ep;
}

} // namespace priava_tokend
