#include <priava_tokend/daemon/sd_notify.hpp>

#include <charconv>
#include <cstring>
#include <utility>

#include <sys/socket.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

std::optional<long long> number(const std::optional<std::string>& text) {
    long long value = 0;
    if (!text || text->empty() ||
        std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc{}) {
        return std::nullopt;
    }
    return value;
}

} // namespace

sd_notifier sd_notifier::from_environment(const environment& env) {
    sd_notifier n;
    const auto path = env.get("NOTIFY_SOCKET");
    if (path && (path->front() == '/' || path->front() == '@') &&
        path->size() < sizeof n.address_.sun_path) {
        n.address_.sun_family = AF_UNIX;
        std::memcpy(n.address_.sun_path, path->data(), path->size());
        if (path->front() == '@') {
            n.address_.sun_path[0] = '\0'; // abstract namespace
        }
        n.address_length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path->size());
        // Non-blocking: a supervisor that does not read must never stall the event loop; a
        // STATUS line lost to a full queue is replaced by the next one.
        n.fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    }
    const auto usec = number(env.get("WATCHDOG_USEC"));
    const auto pid = number(env.get("WATCHDOG_PID"));
    if (usec && *usec > 0 && (!pid || *pid == ::getpid())) {
        n.watchdog_ = std::chrono::microseconds{*usec / 2};
    }
    return n;
}

sd_notifier::sd_notifier(sd_notifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1))
    , address_(other.address_)
    , address_length_(other.address_length_)
    , watchdog_(other.watchdog_) {}

sd_notifier& sd_notifier::operator=(sd_notifier&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = std::exchange(other.fd_, -1);
        address_ = other.address_;
        address_length_ = other.address_length_;
        watchdog_ = other.watchdog_;
    }
    return *this;
}

sd_notifier::~sd_notifier() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

void sd_notifier::notify(std::string_view assignments) const {
    if (fd_ < 0) {
        return;
    }
    ::sendto(fd_, assignments.data(), assignments.size(), MSG_NOSIGNAL,
             reinterpret_cast<const sockaddr*>(&address_), address_length_);
}

outcome<std::optional<int>> activated_socket(const environment& env) {
    const auto pid = number(env.get("LISTEN_PID"));
    const auto fds = number(env.get("LISTEN_FDS"));
    if (!pid || !fds || *pid != ::getpid()) {
        return std::optional<int>{};
    }
    if (*fds != 1) {
        return make_failure(errc::config_invalid,
                            "systemd passed " + std::to_string(*fds) +
                                " sockets (LISTEN_FDS); priava-tokend takes exactly one");
    }
    constexpr int first_passed_fd = 3; // SD_LISTEN_FDS_START
    return std::optional<int>{first_passed_fd};
}

} // namespace priava_tokend
