#pragma once

#include "fake_answer.hpp"
#include "fake_priava_options.hpp"
#include "token_grants.hpp"

#include <cstdint>
#include <string_view>

namespace priava_tokend::testing {

/// Where Priava's REST API lives on the fake: the token endpoint's folder.
inline constexpr std::string_view api_prefix = "/api/rest/";

/// The largest request body the API takes, and the largest `bytes` answer.
inline constexpr std::uint64_t api_body_limit = 16 * 1024 * 1024;
inline constexpr std::uint64_t api_bytes_limit = 256 * 1024 * 1024;

/// Priava's REST API as far as the proxy's tests need it. Every endpoint first checks the bearer
/// token (401 `invalid_token` with `WWW-Authenticate` for a missing, unknown, expired or revoked
/// one) and then `TenantRegion` (400 unless exactly one, the fake's region).
///
/// | request | answer |
/// |---|---|
/// | `GET ping` | `{"ok":true,"region":R}` |
/// | `GET events[?query]` | `{"events":[...],"query":"<the query as sent>"}` |
/// | `GET events/<id>` | one event; 404 `not_found` for an unknown id |
/// | `POST`, `PUT`, `PATCH echo[?query]` | `{"method","query","bytes","sha256","headers"}`: the
/// |   | body's length and digest, every request header (`Authorization` shown as `valid`) |
/// | `GET bytes?count=N` | N bytes of `i % 251`, `application/octet-stream` |
/// | `GET broken?count=N` | the same, but the connection closes after half of the response |
///
/// Paths are below `api_prefix`; another method is 405 with `Allow`, another path 404.
fake_answer answer_api(const http_request& req, const token_grants& grants,
                       const fake_priava_options& options, fake_priava_stats& stats);

} // namespace priava_tokend::testing
