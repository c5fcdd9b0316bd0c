#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace priava_tokend::testing {

/// The credential the fake accepts and how it serves it.
struct fake_priava_options {
    std::string client_id = "test-client";
    std::string client_secret = "test-secret+/=";
    std::string redirect_uri = "https://my.app.com/oauth2callback";
    std::string region = "APAC"; ///< the only `TenantRegion` accepted
    std::string token_path = "/api/rest/oauth/token";
    std::chrono::seconds expires_in{21600};
    /// Every read and write of a connection (and the TLS handshake) must finish within this, so a
    /// stuck client never holds the fake. Injected delays come on top.
    std::chrono::seconds connection_timeout{30};
    /// Priava's rate limit: requests of this credential (token endpoint and API) per fixed
    /// window; over it, 429 with Priava's body. 0: no limit.
    unsigned rate_limit = 450;
    std::chrono::milliseconds rate_window{300'000};
    /// Called with one line per token request (method, path, grant type, outcome); never holds a
    /// secret, code or token. Empty: silent.
    std::function<void(const std::string&)> log;
};

/// What the fake has seen, for assertions. Counts only grow.
struct fake_priava_stats {
    int requests = 0;                               ///< every request to the token path
    int authorization_code_grants = 0;              ///< successful
    int refresh_grants = 0;                         ///< successful
    int rejections = 0;                             ///< 400s from the grant rules
    std::map<std::string, int> rejections_by_error; ///< `invalid_grant` -> 3, ...
    int reuse_attempts = 0;                         ///< a consumed refresh token presented again
    int code_rejections = 0;                        ///< unknown or already used authorization codes
    int faults_applied = 0;                         ///< requests answered by an injected fault
    int abandoned_requests = 0;                     ///< clients that left during a `delay`
    int ping_ok = 0;
    int api_requests = 0;        ///< every request to the API (not the token endpoint)
    int api_ok = 0;              ///< answered 2xx
    int api_unauthorized = 0;    ///< 401: no, unknown, expired or revoked access token
    int rate_limited = 0;        ///< 429s of the rate limit (not injected faults)
    unsigned most_in_window = 0; ///< the most requests counted in one window of the rate limit
    // The last token request, byte for byte (field names only: values may be secrets).
    std::string last_content_type;
    std::string last_tenant_region;
    std::vector<std::string> last_body_field_names;
};

} // namespace priava_tokend::testing
