#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace priava_tokend::testing {

/// How the fake misbehaves on a token request. "Nothing consumed" means the code or refresh
/// token sent stays valid.
enum class fault_kind {
    /// `fault::status` with a JSON body; nothing consumed.
    status,
    /// 429 with Priava's `retry-after` date (UTC, no zone) in the body; nothing consumed.
    rate_limit,
    /// Waits `fault::delay` on a timer, then answers normally; if the client leaves meanwhile,
    /// nothing is consumed. Also "stall past the client's deadline".
    delay,
    /// 502 with a `text/html` page; nothing consumed.
    html_error,
    /// 200 whose body is not JSON; nothing consumed.
    malformed,
    /// The grant is processed (a refresh rotates), then 200 with the new `refresh_token` but no
    /// `access_token`.
    malformed_with_refresh,
    /// 200 with a 100 KiB body; nothing consumed.
    oversized,
    /// A refresh is processed without rotation and answered without `refresh_token` (RFC 6749
    /// §6: the old one stays valid); an authorization_code grant is answered normally.
    omit_refresh_token,
    /// The connection is reset right after the request is read; nothing consumed.
    drop_before,
    /// The grant is processed (a refresh rotates), then half the response and a close.
    drop_after,
    /// 400 `invalid_request` whose `error_description` and `error` echo the request's form body
    /// (refresh token, client secret or code, form-encoded) after 290 characters of text, as a
    /// careless server or a proxy in front of it might; nothing consumed.
    echo_request,
    /// The grant is processed (a refresh rotates), then the answer waits `fault::delay`: the
    /// window in which a client that dies loses the new refresh token, widened.
    delay_after,
};

/// `status`, `rate_limit`, ... as in the control API.
std::string_view to_string(fault_kind kind) noexcept;
std::optional<fault_kind> fault_kind_from_string(std::string_view name) noexcept;

/// One injected misbehaviour and how many of the next token requests it applies to.
struct fault {
    fault_kind kind = fault_kind::status;
    unsigned status = 503;                ///< for `status`
    std::chrono::seconds retry_after{30}; ///< for `rate_limit`
    std::chrono::milliseconds delay{0};   ///< for `delay` and `delay_after`
    unsigned count = 1;                   ///< 0: every request until cleared

    static fault http_status(unsigned status, unsigned count = 1);
    static fault rate_limited(std::chrono::seconds retry_after, unsigned count = 1);
    static fault delayed(std::chrono::milliseconds delay, unsigned count = 1);
    static fault of(fault_kind kind, unsigned count = 1);
};

/// Parses the control API's fault list: a JSON array (or a single object) of
/// `{"kind":"status","status":503,"count":2}`, `{"kind":"rate_limit","retry_after":30}`,
/// `{"kind":"delay","ms":2000}`, `{"kind":"drop_after"}` ...; `count` defaults to 1. Unknown
/// kinds, unknown keys and wrong types are errors whose text says which.
boost::system::result<std::vector<fault>, std::string> parse_faults(std::string_view json);

/// Faults waiting to be applied, first in first out.
class fault_queue {
  public:
    void push(const fault& f) { queue_.push_back(f); }
    void clear() noexcept { queue_.clear(); }
    std::size_t size() const noexcept { return queue_.size(); }

    /// The fault for the next request, if any; uses up one of its `count`.
    std::optional<fault> take();

  private:
    std::deque<fault> queue_;
};

} // namespace priava_tokend::testing
