#include "token_grants.hpp"

#include <priava_tokend/priava/form_encoding.hpp>
#include <priava_tokend/priava/token_request.hpp>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace priava_tokend::testing {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view region_header = "TenantRegion";

grant_result rejected(std::string error, std::string description) {
    return grant_error{std::move(error), std::move(description)};
}

/// Problems with the headers, or nothing.
std::optional<std::string> header_problem(const http::request<http::string_body>& req,
                                          const std::string& region) {
    if (req.count(http::field::content_type) != 1 ||
        req[http::field::content_type] != token_request_content_type) {
        return "Content-Type must be exactly application/x-www-form-urlencoded;charset=utf-8";
    }
    if (req.count(region_header) != 1) {
        return "exactly one TenantRegion header is required";
    }
    const auto value = req[region_header];
    if (value != "APAC" && value != "EU" && value != "US") {
        return "TenantRegion must be APAC, EU or US";
    }
    if (value != region) {
        return "TenantRegion does not match the client's region";
    }
    return std::nullopt;
}

} // namespace

std::string random_token() {
    constexpr std::size_t raw_size = 31; // not a multiple of 3: the base64 ends in "=="
    std::array<unsigned char, raw_size> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        throw std::runtime_error("RAND_bytes failed");
    }
    std::array<unsigned char, 4 * ((raw_size + 2) / 3) + 1> text{};
    const int length = EVP_EncodeBlock(text.data(), raw.data(), static_cast<int>(raw.size()));
    std::string token(reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(length));
    // Force the other two characters that form encoding must escape.
    token[4] = '+';
    token[9] = '/';
    return token;
}

token_grants::token_grants(const fake_priava_options& options, fake_priava_stats& stats)
    : options_(options)
    , stats_(stats) {}

std::string token_grants::issue_code() {
    std::string code = random_token();
    codes_.emplace(code, false);
    return code;
}

grant_result token_grants::exchange(const http::request<http::string_body>& req, rotation how) {
    grant_result result = [&]() -> grant_result {
        if (auto problem = header_problem(req, options_.region)) {
            return rejected("invalid_request", std::move(*problem));
        }
        auto parsed = parse_form(req.body());
        if (!parsed) {
            return rejected("invalid_request",
                            "body is not strictly form-urlencoded: " + parsed.error().message);
        }
        std::map<std::string, std::string> fields;
        for (auto& [name, value] : *parsed) {
            if (!fields.emplace(name, std::move(value)).second) {
                return rejected("invalid_request", "duplicate field " + name);
            }
        }
        const auto grant = fields.find("grant_type");
        if (grant == fields.end()) {
            return rejected("invalid_request", "grant_type is required");
        }
        const bool code = grant->second == "authorization_code";
        if (!code && grant->second != "refresh_token") {
            return rejected("unsupported_grant_type",
                            "grant_type must be authorization_code or refresh_token");
        }
        const std::string value_field = code ? "code" : "refresh_token";
        for (const char* name :
             {"client_id", "client_secret", value_field.c_str(), "redirect_uri"}) {
            if (!fields.contains(name)) {
                return rejected("invalid_request", std::string("missing field ") + name);
            }
        }
        if (fields.size() != 5) {
            return rejected("invalid_request", "unexpected fields in the request body");
        }
        if (fields["client_id"] != options_.client_id ||
            fields["client_secret"] != options_.client_secret) {
            return rejected("invalid_client", "client authentication failed");
        }
        if (fields["redirect_uri"] != options_.redirect_uri) {
            return rejected("invalid_grant", "redirect_uri does not match the client's");
        }
        return code ? redeem_code(fields["code"]) : redeem_refresh(fields["refresh_token"], how);
    }();
    if (const auto* e = std::get_if<grant_error>(&result)) {
        ++stats_.rejections;
        ++stats_.rejections_by_error[e->error];
    }
    return result;
}

grant_result token_grants::redeem_code(const std::string& code) {
    const auto it = codes_.find(code);
    if (it == codes_.end() || it->second) {
        ++stats_.code_rejections;
        return rejected("invalid_grant", "authorization code is invalid, expired or already used");
    }
    it->second = true;
    if (!current_refresh_.empty()) {
        revoked_refresh_.insert(current_refresh_);
    }
    current_refresh_.clear();
    ++stats_.authorization_code_grants;
    return issue(true);
}

grant_result token_grants::redeem_refresh(const std::string& token, rotation how) {
    if (current_refresh_.empty() || token != current_refresh_) {
        if (consumed_refresh_.contains(token)) {
            ++stats_.reuse_attempts;
            return rejected("invalid_grant",
                            "refresh token reuse detected: this refresh token was already used");
        }
        if (revoked_refresh_.contains(token)) {
            return rejected("invalid_grant", "refresh token has been revoked");
        }
        return rejected("invalid_grant", "refresh token is invalid");
    }
    ++stats_.refresh_grants;
    if (how == rotation::keep) {
        return issue(false);
    }
    consumed_refresh_.insert(current_refresh_);
    current_refresh_.clear();
    return issue(true);
}

issued_tokens token_grants::issue(bool with_refresh_token) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(access_tokens_, [&](const auto& entry) { return entry.second <= now; });
    issued_tokens tokens;
    do {
        tokens.access_token = random_token();
    } while (access_tokens_.contains(tokens.access_token));
    tokens.expires_in = options_.expires_in;
    access_tokens_.emplace(tokens.access_token, now + options_.expires_in);
    if (with_refresh_token) {
        current_refresh_ = random_token();
        tokens.refresh_token = current_refresh_;
    }
    return tokens;
}

bool token_grants::accepts_access_token(std::string_view token) const {
    const auto it = access_tokens_.find(std::string(token));
    return it != access_tokens_.end() && std::chrono::steady_clock::now() < it->second &&
           !revoked_access_.contains(it->first);
}

void token_grants::revoke_access_tokens() {
    for (const auto& [token, expiry] : access_tokens_) {
        revoked_access_.insert(token);
    }
}

void token_grants::revoke() {
    if (!current_refresh_.empty()) {
        revoked_refresh_.insert(current_refresh_);
        current_refresh_.clear();
    }
}

issued_secrets token_grants::issued() const {
    issued_secrets all;
    for (const auto& [code, used] : codes_) {
        all.codes.push_back(code);
    }
    if (!current_refresh_.empty()) {
        all.refresh_tokens.push_back(current_refresh_);
    }
    all.refresh_tokens.insert(all.refresh_tokens.end(), consumed_refresh_.begin(),
                              consumed_refresh_.end());
    all.refresh_tokens.insert(all.refresh_tokens.end(), revoked_refresh_.begin(),
                              revoked_refresh_.end());
    for (const auto& [token, expiry] : access_tokens_) {
        all.access_tokens.push_back(token);
    }
    return all;
}

} // namespace priava_tokend::testing
