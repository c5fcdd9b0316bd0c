#pragma once

#include <priava_tokend/core/environment.hpp>
#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/unique_fd.hpp>

#include <chrono>
#include <optional>
#include <string_view>

#include <sys/un.h>

namespace priava_tokend {

/// The shortest interval between `WATCHDOG=1` pings, whatever `WATCHDOG_USEC` says.
inline constexpr std::chrono::microseconds shortest_watchdog_interval{100'000};

/// The service manager's notification socket (sd_notify(3) protocol, written here rather than
/// pulling in libsystemd): `READY=1`, `STATUS=...`, `WATCHDOG=1`, `STOPPING=1`.
/// Does nothing when `NOTIFY_SOCKET` is unset.
class sd_notifier {
  public:
    static sd_notifier from_environment(const environment& env);

    bool enabled() const noexcept { return fd_.valid(); }
    /// Sends one datagram of newline-separated assignments without ever blocking; errors (a full
    /// queue included) are ignored as sd_notify does.
    void notify(std::string_view assignments) const;

    /// Half of `WATCHDOG_USEC` (at least `shortest_watchdog_interval`) when the watchdog is meant
    /// for this process, else nothing.
    std::optional<std::chrono::microseconds> watchdog_interval() const noexcept {
        return watchdog_;
    }

  private:
    unique_fd fd_;
    sockaddr_un address_{};
    socklen_t address_length_ = 0;
    std::optional<std::chrono::microseconds> watchdog_;
};

} // namespace priava_tokend
