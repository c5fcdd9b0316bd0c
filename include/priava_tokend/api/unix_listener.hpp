#pragma once

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/core/error.hpp>

#include <string>

#include <sys/types.h>

namespace priava_tokend {

/// The listening Unix stream socket of the API: made by the daemon (and removed again at exit)
/// or inherited from systemd socket activation (left alone).
struct unix_listener {
    int fd = -1;
    std::string path; ///< empty when inherited
    dev_t dev = 0;
    ino_t ino = 0;
};

/// Creates `listen.socket` with `listen.mode` and `listen.group`. The file is made 0600 first and
/// only then given to the group and opened up, so it is never more open than configured. A stale
/// socket from a crashed run is replaced; a live one (another daemon) is refused.
outcome<unix_listener> create_unix_listener(const config::listen_section& listen);

/// Checks that an inherited descriptor is a listening Unix stream socket.
outcome<unix_listener> inherit_unix_listener(int fd);

/// Removes the socket file if it is still the one this process made.
void remove_socket_file(const unix_listener& listener);

} // namespace priava_tokend
