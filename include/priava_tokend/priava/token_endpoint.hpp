#pragma once

#include <priava_tokend/core/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace priava_tokend {

/// Priava's token URL taken apart for the HTTPS client.
struct token_endpoint {
    bool tls = true;
    std::string host; ///< as written, without brackets for IPv6
    std::uint16_t port = 443;
    std::string target;      ///< path and query, at least "/"
    std::string host_header; ///< `Host:` value, with the port when it is not the default
};

/// Accepts `https://host[:port]/path` and, for local tests only, `http://` to a loopback host
/// (`localhost`, `127.0.0.0/8`, `[::1]`). User info, fragments and other schemes are refused with
/// a message saying which part is wrong, calling the URL `name` (the config key it came from).
outcome<token_endpoint> parse_token_url(std::string_view url, std::string_view name = "token_url");

/// True for `localhost`, `127.0.0.0/8` and `::1`.
bool is_loopback_host(std::string_view host);

} // namespace priava_tokend
