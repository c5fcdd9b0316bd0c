#pragma once

#include "fake_priava_options.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace priava_tokend::testing {

/// Tokens handed out by a successful grant.
struct issued_tokens {
    std::string access_token;
    std::optional<std::string> refresh_token; ///< absent when a refresh did not rotate
    std::chrono::seconds expires_in{0};
};

/// A 400 in Priava's shape: `{"error","error_description"}`.
struct grant_error {
    std::string error;
    std::string description;
};

using grant_result = std::variant<issued_tokens, grant_error>;

/// What a successful refresh does with the refresh token it was given.
enum class rotation {
    rotate, ///< consume it and issue a new one (Priava's behaviour)
    keep,   ///< leave it valid and issue none (RFC 6749 §6 allows this)
};

/// Everything a fake ever handed out, for tests that scan output for leaked secrets.
struct issued_secrets {
    std::vector<std::string> codes;
    std::vector<std::string> refresh_tokens;
    std::vector<std::string> access_tokens;
};

/// Priava's token endpoint rules without the sockets: which requests are accepted, and the codes
/// and tokens the fake issued. One credential: a single current refresh token; every token it
/// replaced is remembered as consumed. Not thread-safe; `options` and `stats` must outlive it.
class token_grants {
  public:
    token_grants(const fake_priava_options& options, fake_priava_stats& stats);

    /// A new single-use authorization code.
    std::string issue_code();

    /// Checks a token request byte for byte (headers `Content-Type` and `TenantRegion`, the form
    /// body, the credential) and, when it passes, consumes the code or refresh token and issues
    /// new tokens. Counts grants and rejections in `stats`.
    grant_result exchange(const boost::beast::http::request<boost::beast::http::string_body>& req,
                          rotation how);

    /// True for an access token this fake issued that has not expired.
    bool accepts_access_token(std::string_view token) const;

    /// The current refresh token stops working (`invalid_grant`) until a new code is exchanged.
    void revoke();

    /// Every access token issued so far stops working (they stay listed by `issued`).
    void revoke_access_tokens();

    issued_secrets issued() const;

    /// Empty before the first authorization_code grant and after `revoke()`.
    const std::string& current_refresh_token() const noexcept { return current_refresh_; }

  private:
    grant_result redeem_code(const std::string& code);
    grant_result redeem_refresh(const std::string& token, rotation how);
    issued_tokens issue(bool with_refresh_token);

    const fake_priava_options& options_;
    fake_priava_stats& stats_;
    std::map<std::string, bool> codes_; ///< code -> already used
    std::string current_refresh_;
    std::set<std::string> consumed_refresh_; ///< rotated away: presenting one is reuse
    std::set<std::string> revoked_refresh_;  ///< revoked or replaced by a new authorization
    std::map<std::string, std::chrono::steady_clock::time_point> access_tokens_; ///< -> expiry
    std::set<std::string> revoked_access_;
};

/// 44 characters of base64 from 31 random bytes, always holding `+`, `/` and `=` so that every
/// token exercises the form encoding of whoever sends it back.
std::string random_token();

} // namespace priava_tokend::testing
