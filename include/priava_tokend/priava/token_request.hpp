#pragma once

#include <priava_tokend/core/secret.hpp>

#include <string>

namespace priava_tokend {

/// What identifies this daemon to Priava (Admin > API Access > Access Token in Priava).
struct client_credentials {
    std::string client_id;
    secret client_secret;
    std::string redirect_uri;
};

enum class grant_type { authorization_code, refresh_token };

/// The form body of a token request, field for field as Priava's page shows it
/// (`grant_type, client_id, client_secret, code|refresh_token, redirect_uri`), each value
/// form-urlencoded. `value` is the authorization code or the refresh token.
secret token_request_body(const client_credentials& client, grant_type grant, const secret& value);

/// `Content-Type` of every token request, byte for byte as Priava documents it.
inline constexpr const char* token_request_content_type =
    "application/x-www-form-urlencoded;charset=utf-8";

} // namespace priava_tokend
