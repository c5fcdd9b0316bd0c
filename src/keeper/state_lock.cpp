#include <priava_tokend/keeper/state_lock.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

std::optional<pid_t> read_pid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    pid_t pid = 0;
    if (n <= 0 || std::from_chars(buf, buf + n, pid).ec != std::errc{} || pid <= 0) {
        return std::nullopt;
    }
    return pid;
}

std::string held_message(const std::string& state_path, std::optional<pid_t> pid) {
    return "state file " + state_path + " is in use by another priava-tokend" +
           (pid ? " (pid " + std::to_string(*pid) + ")" : std::string{}) +
           "; only one process may own a refresh token";
}

} // namespace

outcome<state_lock> state_lock::acquire(const std::string& state_path) {
    const std::string path = state_path + ".lock";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return make_failure(errc::file_unreadable,
                            "cannot open lock file " + path + ": " + std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        const auto pid = read_pid(fd);
        ::close(fd);
        if (error == EWOULDBLOCK) {
            return make_failure(errc::state_locked, held_message(state_path, pid));
        }
        return make_failure(errc::file_unreadable,
                            "cannot lock " + path + ": " + std::strerror(error));
    }
    // The lock holds even if this fails; only the pid shown to a refused process would be missing.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) == 0) {
        (void)!::pwrite(fd, pid.data(), pid.size(), 0);
    }
    return state_lock{fd};
}

std::optional<pid_t> state_lock::holder(const std::string& state_path) {
    const std::string path = state_path + ".lock";
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return std::nullopt;
    }
    std::optional<pid_t> pid;
    if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        pid = read_pid(fd).value_or(0);
    } else {
        ::flock(fd, LOCK_UN);
    }
    ::close(fd);
    return pid;
}

state_lock& state_lock::operator=(state_lock&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        fd_ = other.fd_;
        other.fd_ = -1;
    }
    return *this;
}

state_lock::~state_lock() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

} // namespace priava_tokend
