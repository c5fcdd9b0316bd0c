#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/daemon/sd_notify.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

#include <sys/socket.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

std::optional<long long> number(const std::optional<std::string>& text) {
    return text ? parse_number<long long>(*text) : std::nullopt;
}

} // namespace

sd_notifier sd_notifier::from_environment(const environment& env) {
    sd_notifier n;
    const auto path = env.get("NOTIFY_SOCKET");
    if (path && !path->empty() && (path->front() == '/' || path->front() == '@') &&
        path->size() < sizeof n.address_.sun_path) {
        n.address_.sun_family = AF_UNIX;
        std::memcpy(n.address_.sun_path, path->data(), path->size());
        if (path->front() == '@') {
            n.address_.sun_path[0] = '\0'; // abstract namespace
        }
        n.address_length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path->size());
        // Non-blocking: a supervisor that does not read must never stall the event loop; a
        // STATUS line lost to a full queue is replaced by the next one.
        n.fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    }
    const auto usec = number(env.get("WATCHDOG_USEC"));
    const auto pid = number(env.get("WATCHDOG_PID"));
    if (usec && *usec > 0 && (!pid || *pid == ::getpid())) {
        // Half the timeout, as sd_watchdog_enabled(3) asks, but never more often than every
        // 100 ms: a tiny WATCHDOG_USEC would otherwise make the event loop a busy loop (and a
        // timeout that short could not be met by any loop that also does work anyway).
        n.watchdog_ = std::max(std::chrono::microseconds{*usec / 2}, shortest_watchdog_interval);
    }
    return n;
}

void sd_notifier::notify(std::string_view assignments) const {
    if (!fd_.valid()) {
        return;
    }
    ::sendto(fd_.get(), assignments.data(), assignments.size(), MSG_NOSIGNAL,
             reinterpret_cast<const sockaddr*>(&address_), address_length_);
}

} // namespace priava_tokend
