#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/core/timestamp.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <variant>

namespace priava_tokend {

/// A successful grant.
struct token_set {
    secret access_token;
    std::optional<secret> refresh_token; ///< absent: keep the old one (RFC 6749 §6)
    std::chrono::seconds expires_in{0};
    /// When the reply arrived, set by the token request process: the receipt time it stored, or
    /// the daemon stores, so that the state file and the held token agree.
    std::optional<wall_time> received_at{};
    /// The token request process already wrote these tokens to the state file, durably and
    /// holding the daemon's state lock, before it answered: the daemon must not write them again.
    bool stored = false;
};

/// Worth retrying later: network, TLS, timeout, 5xx, 429, a malformed 200, anything unexpected.
struct transient_failure {
    errc reason = errc::server_error;
    std::string detail;       ///< for logs and status; never holds a secret
    unsigned http_status = 0; ///< 0 when no response arrived
    std::optional<wall_time> retry_after;
    /// A malformed 200 that still carried a new refresh token: the old one is consumed, so this
    /// one must be kept.
    std::optional<secret> rotated_refresh_token;
    /// The token request process already wrote `rotated_refresh_token` to the state file.
    bool rotation_stored = false;
};

/// Priava said no (400/401): the credential needs a person. Never retried.
struct rejection {
    unsigned http_status = 400;
    std::string error;       ///< Priava's `error`, e.g. `invalid_grant`
    std::string description; ///< Priava's `error_description`, cleaned and shortened
};

using token_outcome = std::variant<token_set, transient_failure, rejection>;

/// Sorts a response of the token endpoint into one of the three outcomes. `retry_after_header`
/// is the HTTP `Retry-After` value (seconds or an HTTP date), used only when Priava's 429 body
/// lacks its own `retry-after` field. `now` turns relative delays into a time.
token_outcome classify_token_response(unsigned status, std::string_view body,
                                      std::string_view retry_after_header, wall_time now);

/// Printable ASCII without spaces (RFC 6749 VSCHAR less the space, which a Bearer header
/// cannot carry).
bool is_token_text(std::string_view text) noexcept;

} // namespace priava_tokend
