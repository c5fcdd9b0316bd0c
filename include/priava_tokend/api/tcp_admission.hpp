#pragma once

#include <priava_tokend/api/http_response.hpp>
#include <priava_tokend/core/secret.hpp>

#include <boost/beast/http/fields.hpp>

#include <optional>
#include <string_view>

namespace priava_tokend {

/// True for a `Host` header naming this machine's loopback: `localhost`, `127.0.0.1` or `[::1]`,
/// with any port or none.
bool loopback_host_header(std::string_view host);

/// Why a request on the TCP listener is refused, or nothing (docs/proxy.md, "TCP"):
/// 403 when it came through another proxy (`Forwarded`, `X-Forwarded-For`, `Via`) or names a
/// `Host` other than the loopback (a web page's DNS rebinding), then 401 without the right
/// `Priava-Tokend-Auth` (compared in constant time), except for `/livez` and `/readyz`.
std::optional<response> tcp_refusal(const boost::beast::http::fields& headers,
                                    std::string_view target, const secret& auth_token);

/// The header a TCP client proves itself with.
inline constexpr std::string_view tcp_auth_header = "Priava-Tokend-Auth";
/// The header a TCP client names itself with for the budget's round-robin.
inline constexpr std::string_view tcp_client_header = "Priava-Tokend-Client";

} // namespace priava_tokend
