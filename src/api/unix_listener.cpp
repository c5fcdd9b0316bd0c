#include <priava_tokend/api/unix_listener.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/file_mode.hpp>
#include <priava_tokend/core/file_path.hpp>
#include <priava_tokend/core/unique_fd.hpp>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

/// The backlog of the listening socket: clients beyond the connection cap wait here.
constexpr int listen_backlog = 4096;

failure listen_failure(std::string message) {
    return make_failure(errc::config_invalid, std::move(message));
}

/// True if a process accepts connections on the socket at `address`.
bool someone_listens(const sockaddr_un& address) {
    const unique_fd probe{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
    if (!probe.valid()) {
        return false;
    }
    const int rc =
        ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
    return rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
}

/// Removes a socket file left behind by a crashed run; refuses anything else at the path.
outcome<void> clear_path(const std::string& path, const sockaddr_un& address) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        return {};
    }
    if (!S_ISSOCK(st.st_mode)) {
        return listen_failure("listen.socket " + path +
                              " exists and is not a socket; remove it or choose another path");
    }
    if (someone_listens(address)) {
        return listen_failure("another process is listening on " + path +
                              " (another priava-tokend?); stop it or choose another "
                              "listen.socket");
    }
    ::unlink(path.c_str());
    return {};
}

/// Binds with every permission bit masked: the file is 0600 until `open_up` widens it.
outcome<unique_fd> bind_private(const std::string& path, const sockaddr_un& address) {
    unique_fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
    if (!fd.valid()) {
        return listen_failure("cannot create a Unix socket: " + errno_text(errno));
    }
    const mode_t old_mask = ::umask(0177);
    const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int bind_error = errno;
    ::umask(old_mask);
    if (bound != 0) {
        return listen_failure("cannot create socket " + path + ": " + errno_text(bind_error) +
                              (bind_error == ENOENT
                                   ? " (create " + directory_of(path) +
                                         ", or let priava-tokend.socket make the socket)"
                                   : std::string{}));
    }
    return fd;
}

/// Gives the bound socket its group and mode and starts listening.
outcome<void> open_up(const config::listen_section& listen, int fd) {
    const std::string& path = listen.socket;
    if (listen.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *listen.group) != 0) {
        return listen_failure("cannot give socket " + path + " to group " +
                              std::to_string(*listen.group) + ": " + errno_text(errno) +
                              " (the daemon's user must be a member of it)");
    }
    if (::chmod(path.c_str(), listen.mode) != 0) {
        return listen_failure("cannot set mode " + octal_mode(listen.mode) + " on " + path + ": " +
                              errno_text(errno));
    }
    if (::listen(fd, listen_backlog) != 0) {
        return listen_failure("cannot listen on " + path + ": " + errno_text(errno));
    }
    return {};
}

} // namespace

outcome<unix_listener> create_unix_listener(const config::listen_section& listen) {
    const std::string& path = listen.socket;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof address.sun_path) {
        return listen_failure("listen.socket " + path + " is longer than " +
                              std::to_string(sizeof address.sun_path - 1) +
                              " bytes, the limit of Unix socket paths");
    }
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    if (auto cleared = clear_path(path, address); !cleared) {
        return cleared.error();
    }
    auto fd = bind_private(path, address);
    if (!fd) {
        return fd.error();
    }
    struct stat st {};
    auto opened = open_up(listen, fd->get());
    if (opened && ::stat(path.c_str(), &st) != 0) {
        opened = listen_failure("socket " + path + " vanished: " + errno_text(errno));
    }
    if (!opened) {
        ::unlink(path.c_str());
        return opened.error();
    }
    return unix_listener{fd->release(), path, st.st_dev, st.st_ino};
}

outcome<unix_listener> inherit_unix_listener(int fd) {
    const auto option = [fd](int name) {
        int value = 0;
        socklen_t length = sizeof value;
        return ::getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : -1;
    };
    if (option(SO_DOMAIN) != AF_UNIX || option(SO_TYPE) != SOCK_STREAM ||
        option(SO_ACCEPTCONN) != 1) {
        return listen_failure("the socket passed by systemd (fd " + std::to_string(fd) +
                              ") is not a listening Unix stream socket; use ListenStream=/path");
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    return unix_listener{fd, {}, 0, 0};
}

void remove_socket_file(const unix_listener& listener) {
    struct stat st {};
    if (!listener.path.empty() && ::lstat(listener.path.c_str(), &st) == 0 &&
        st.st_dev == listener.dev && st.st_ino == listener.ino) {
        ::unlink(listener.path.c_str());
    }
}

} // namespace priava_tokend
