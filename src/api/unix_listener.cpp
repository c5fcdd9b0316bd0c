#include <priava_tokend/api/unix_listener.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

std::string errno_text() {
    return std::strerror(errno);
}

failure listen_failure(std::string message) {
    return make_failure(errc::config_invalid, std::move(message));
}

class fd_guard {
  public:
    explicit fd_guard(int fd) noexcept
        : fd_(fd) {}
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    ~fd_guard() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }

  private:
    int fd_;
};

/// True if a process accepts connections on the socket at `address`.
bool someone_listens(const sockaddr_un& address) {
    fd_guard probe{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
    if (probe.get() < 0) {
        return false;
    }
    const int rc =
        ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
    return rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
}

std::string octal(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode));
    return text;
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

    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            return listen_failure("listen.socket " + path +
                                  " exists and is not a socket; remove it or choose another path");
        }
        if (someone_listens(address)) {
            return listen_failure("another process is listening on " + path +
                                  " (another priava-tokend?); stop it or choose another "
                                  "listen.socket");
        }
        ::unlink(path.c_str()); // left behind by a crashed run
    }

    fd_guard fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
    if (fd.get() < 0) {
        return listen_failure("cannot create a Unix socket: " + errno_text());
    }
    const mode_t old_mask = ::umask(0177);
    const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int bind_error = errno;
    ::umask(old_mask);
    if (bound != 0) {
        const auto slash = path.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
        return listen_failure(
            "cannot create socket " + path + ": " + std::strerror(bind_error) +
            (bind_error == ENOENT
                 ? " (create " + dir + ", or let priava-tokend.socket make the socket)"
                 : std::string{}));
    }
    const auto undo = [&](std::string message) {
        ::unlink(path.c_str());
        return listen_failure(std::move(message));
    };
    if (listen.group && ::chown(path.c_str(), static_cast<uid_t>(-1), *listen.group) != 0) {
        return undo("cannot give socket " + path + " to group " + std::to_string(*listen.group) +
                    ": " + errno_text() + " (the daemon's user must be a member of it)");
    }
    if (::chmod(path.c_str(), listen.mode) != 0) {
        return undo("cannot set mode " + octal(listen.mode) + " on " + path + ": " + errno_text());
    }
    if (::listen(fd.get(), 4096) != 0) {
        return undo("cannot listen on " + path + ": " + errno_text());
    }
    if (::stat(path.c_str(), &st) != 0) {
        return undo("socket " + path + " vanished: " + errno_text());
    }
    return unix_listener{fd.release(), path, st.st_dev, st.st_ino};
}

outcome<unix_listener> inherit_unix_listener(int fd) {
    int domain = 0;
    int type = 0;
    int accepting = 0;
    socklen_t length = sizeof(int);
    const bool unix_stream =
        ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_UNIX &&
        (length = sizeof(int), ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0) &&
        type == SOCK_STREAM &&
        (length = sizeof(int),
         ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0) &&
        accepting == 1;
    if (!unix_stream) {
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
