#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/daemon/socket_activation.hpp>

#include <unistd.h>

namespace priava_tokend {

outcome<std::optional<int>> activated_socket(const environment& env) {
    const auto pid = parse_number<long long>(env.get("LISTEN_PID").value_or(""));
    const auto fds = parse_number<long long>(env.get("LISTEN_FDS").value_or(""));
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
