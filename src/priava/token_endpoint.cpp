#include <priava_tokend/priava/token_endpoint.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <arpa/inet.h>

namespace priava_tokend {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

failure bad_url(std::string what) {
    return make_failure(errc::config_invalid, std::move(what));
}

bool valid_reg_name(std::string_view host) {
    return !host.empty() && std::all_of(host.begin(), host.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '.' || c == '_';
    });
}

} // namespace

bool is_loopback_host(std::string_view host) {
    if (lower(host) == "localhost" || host == "::1") {
        return true;
    }
    in_addr v4{};
    const std::string copy(host);
    return ::inet_pton(AF_INET, copy.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

outcome<token_endpoint> parse_token_url(std::string_view url) {
    token_endpoint ep;
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) {
        return bad_url("token_url must start with https://");
    }
    const std::string scheme = lower(url.substr(0, scheme_end));
    if (scheme == "https") {
        ep.tls = true;
        ep.port = 443;
    } else if (scheme == "http") {
        ep.tls = false;
        ep.port = 80;
    } else {
        return bad_url("token_url scheme '" + scheme + "' is not https");
    }
    std::string_view rest = url.substr(scheme_end + 3);
    if (rest.find('#') != std::string_view::npos) {
        return bad_url("token_url must not contain a fragment ('#')");
    }
    if (std::any_of(rest.begin(), rest.end(),
                    [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
        return bad_url("token_url contains a space or control character");
    }
    const auto authority_end = std::min(rest.find_first_of("/?"), rest.size());
    std::string_view authority = rest.substr(0, authority_end);
    ep.target = std::string(rest.substr(authority_end));
    if (ep.target.empty() || ep.target.front() == '?') {
        ep.target.insert(0, "/");
    }
    if (authority.find('@') != std::string_view::npos) {
        return bad_url("token_url must not contain user info ('user@')");
    }
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return bad_url("token_url has an unterminated IPv6 address");
        }
        ep.host = std::string(authority.substr(1, close - 1));
        in6_addr v6{};
        if (::inet_pton(AF_INET6, ep.host.c_str(), &v6) != 1) {
            return bad_url("token_url host '" + ep.host + "' is not an IPv6 address");
        }
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':') {
            return bad_url("token_url has text after the IPv6 address");
        }
        port_text = after.empty() ? after : after.substr(1);
    } else {
        const auto colon = authority.rfind(':');
        ep.host = std::string(authority.substr(0, colon));
        port_text =
            colon == std::string_view::npos ? std::string_view{} : authority.substr(colon + 1);
        if (!valid_reg_name(ep.host)) {
            return bad_url("token_url host '" + ep.host + "' is not a valid host name");
        }
    }
    if (!port_text.empty() || authority.find(':') != std::string_view::npos) {
        unsigned port = 0;
        const auto [end, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
            port == 0 || port > 65535) {
            return bad_url("token_url port '" + std::string(port_text) + "' is not 1-65535");
        }
        ep.port = static_cast<std::uint16_t>(port);
    }
    if (!ep.tls && !is_loopback_host(ep.host)) {
        return bad_url("token_url uses http:// to '" + ep.host +
                       "'; plain HTTP is only allowed to a loopback host (tests); use https://");
    }
    const bool v6 = ep.host.find(':') != std::string::npos;
    ep.host_header = v6 ? "[" + ep.host + "]" : ep.host;
    if (ep.port != (ep.tls ? 443 : 80)) {
        ep.host_header += ":" + std::to_string(ep.port);
    }
    return ep;
}

} // namespace priava_tokend
