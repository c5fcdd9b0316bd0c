#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/keeper/state_lock.hpp>

#include <cerrno>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

std::optional<pid_t> read_pid(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) {
        return std::nullopt;
    }
    std::string_view text(buf, static_cast<std::size_t>(n));
    if (text.ends_with('\n')) {
        text.remove_suffix(1);
    }
    const auto pid = parse_number<pid_t>(text);
    return pid && *pid > 0 ? pid : std::nullopt;
}

std::string held_message(const std::string& state_path, std::optional<pid_t> pid) {
    return "state file " + state_path + " is in use by another priava-tokend" +
           (pid ? " (pid " + std::to_string(*pid) + ")" : std::string{}) +
           "; only one process may own a refresh token";
}

/// Refuses a lock file that is anything but a regular file of ours with one link: a FIFO
/// would block, and a hard link to the state file (or to a file elsewhere) would be truncated.
outcome<void> check_lock_file(const std::string& path, int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        return make_failure(errc::file_unreadable,
                            "cannot stat lock file " + path + ": " + errno_text(errno));
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != ::geteuid()) {
        return make_failure(errc::file_insecure,
                            "lock file " + path +
                                " is not a regular file of this user with a single link; "
                                "remove it (it holds nothing) and start again");
    }
    return {};
}

} // namespace

outcome<state_lock> state_lock::acquire(const std::string& state_path) {
    const std::string path = state_path + ".lock";
    // O_NONBLOCK: a FIFO planted here must not block the open.
    unique_fd fd{
        ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600)};
    if (!fd.valid()) {
        return make_failure(errc::file_unreadable,
                            "cannot open lock file " + path + ": " + errno_text(errno));
    }
    if (auto checked = check_lock_file(path, fd.get()); !checked) {
        return checked.error();
    }
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        if (error == EWOULDBLOCK) {
            return make_failure(errc::state_locked, held_message(state_path, read_pid(fd.get())));
        }
        return make_failure(errc::file_unreadable,
                            "cannot lock " + path + ": " + errno_text(error));
    }
    // The lock holds even if this fails; only the pid shown to a refused process would be missing.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) == 0) {
        (void)!::pwrite(fd.get(), pid.data(), pid.size(), 0);
    }
    return state_lock{std::move(fd)};
}

std::optional<pid_t> state_lock::holder(const std::string& state_path) {
    const std::string path = state_path + ".lock";
    const unique_fd fd{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return std::nullopt;
    }
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        return read_pid(fd.get()).value_or(0);
    }
    ::flock(fd.get(), LOCK_UN);
    return std::nullopt;
}

} // namespace priava_tokend
