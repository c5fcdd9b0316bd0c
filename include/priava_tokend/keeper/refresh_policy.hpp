#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/timestamp.hpp>

#include <chrono>
#include <optional>

namespace priava_tokend {

/// When to refresh and how long to back off: pure arithmetic on the `[refresh]` settings.
/// Random draws come in as `u` in [0, 1) so tests can pin them.
class refresh_policy {
  public:
    explicit refresh_policy(const config::refresh_section& settings)
        : s_(settings) {}

    /// Delay from receipt to the planned refresh of a token that lives `lifetime`.
    ///
    /// The fraction is taken of the part of the lifetime in which the token is served (up to
    /// `serve_margin` before expiry), minus up to `jitter_fraction` of it; for Priava's 6 h and
    /// the defaults that is 4h29m15s minus up to 17m57s. Never sooner than `min_backoff`, so a
    /// server handing out tiny lifetimes cannot make the daemon spin.
    milliseconds refresh_delay(std::chrono::seconds lifetime, double u) const;

    /// Full-jitter exponential backoff after `failures` consecutive transient failures (>= 1):
    /// uniform between `min_backoff` and min(`max_backoff`, `min_backoff` * 2^(failures-1)).
    milliseconds backoff(unsigned failures, double u) const;

    /// The wait before the next attempt: the backoff, or Priava's `retry-after` if that is
    /// later. A `retry-after` more than five minutes away (Priava's rate-limit window) is read as
    /// a clock or time-zone mismatch and capped there.
    milliseconds retry_delay(unsigned failures, double u, std::optional<wall_time> retry_after,
                             wall_time now) const;

    /// How long a token of `lifetime` is handed out: until `serve_margin` before expiry.
    milliseconds served_for(std::chrono::seconds lifetime) const;

    const config::refresh_section& settings() const noexcept { return s_; }

  private:
    config::refresh_section s_;
};

/// A forced refresh (`POST /v1/token/refresh`) that comes this soon after a successful one
/// answers with that token instead of refreshing again.
inline constexpr std::chrono::seconds forced_refresh_reuse_window{10};

/// Priava's rate-limit window; `retry-after` beyond it is capped.
inline constexpr std::chrono::minutes rate_limit_window{5};

} // namespace priava_tokend
