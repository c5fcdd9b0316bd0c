#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <type_traits>

namespace priava_tokend {

/// Every failure the daemon tells apart. Distinct timeouts and rejections get distinct codes so
/// that logs, status and metrics can say exactly what went wrong.
enum class errc {
    // configuration and files
    config_invalid = 1,
    file_unreadable,
    file_insecure, ///< group- or world-accessible, or owned by someone else
    state_missing,
    state_corrupt,
    state_foreign, ///< made for another token_url / client_id / region
    state_locked,  ///< another process holds `<state>.lock`
    state_write_failed,
    // token endpoint, transient
    resolve_failed,
    connect_failed,
    tls_failed,
    request_timeout,
    connection_lost,
    response_too_large,
    malformed_response,
    server_error, ///< 5xx or another unexpected status
    rate_limited, ///< 429
    // token endpoint, terminal
    rejected, ///< 400/401 with Priava's `error`
    // local socket API
    daemon_unreachable,
    bad_reply,
};

const boost::system::error_category& error_category() noexcept;

/// The enumerator's name (`connect_failed`), used as the `error` of `/v1/status`'s last_error.
std::string_view to_string(errc e) noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// An error code plus the one-line explanation an operator reads. The explanation names the file,
/// key or server reply involved and never holds a secret.
struct failure {
    boost::system::error_code code;
    std::string message;
};

failure make_failure(errc e, std::string message);

[[noreturn]] void throw_exception_from_error(const failure& f, const boost::source_location& loc);

/// A value or a failure; used for everything that parses or loads.
template <class T>
using outcome = boost::system::result<T, failure>;

} // namespace priava_tokend

template <>
struct boost::system::is_error_code_enum<priava_tokend::errc> : std::true_type {};
