#pragma once

namespace priava_tokend {

/// Exit statuses of docs/command-line.md (sysexits.h values).
enum class exit_code : int {
    ok = 0,
    failed = 1,         ///< the operation failed; the message says why
    usage = 64,         ///< EX_USAGE
    unavailable = 69,   ///< EX_UNAVAILABLE: daemon not reachable or no token
    temporary = 75,     ///< EX_TEMPFAIL: retry later
    reauth = 77,        ///< EX_NOPERM: the credential needs a new authorization code
    configuration = 78, ///< EX_CONFIG
};

constexpr int to_int(exit_code c) noexcept {
    return static_cast<int>(c);
}

} // namespace priava_tokend
