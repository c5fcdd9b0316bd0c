#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/keeper/state_lock.hpp>

#include <cerrno>
#include <fstream>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

using std::chrono::milliseconds;

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

/// False when no process has `pid`, or only its zombie (dead, not yet reaped by its parent).
bool process_alive(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) {
        return false;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    // `pid (name) S ...`; the name may hold anything, a ')' too.
    const auto name_end = text.rfind(')');
    if (name_end == std::string::npos || name_end + 2 >= text.size()) {
        return true; // unreadable here (another user's, a hidden /proc): take it as alive
    }
    const char state = text[name_end + 2];
    return state != 'Z' && state != 'X';
}

/// Waits until the lock is ours or `limit` has passed, trying again every 20 ms. Polling rather
/// than a blocking flock(2) cut short by a signal: a sanitizer's runtime may hold a signal back
/// until the blocking call returns, which it never would.
bool wait_for_lock(int fd, milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if ((errno != EWOULDBLOCK && errno != EINTR) || std::chrono::steady_clock::now() >= until) {
            return false;
        }
        const timespec pause{0, 20'000'000};
        ::nanosleep(&pause, nullptr);
    }
    return true;
}

/// The lock is held by another process. Refuses at once unless the pid recorded in the file is
/// gone: then the lock is a killed daemon's, held on by a token request process that stores
/// Priava's answer, and is waited for. Returns the gone holder's pid.
outcome<pid_t> wait_for_orphan(int fd, const std::string& state_path, milliseconds limit) {
    const auto recorded = read_pid(fd);
    if (!recorded || limit <= milliseconds::zero() || process_alive(*recorded)) {
        return make_failure(errc::state_locked, held_message(state_path, recorded));
    }
    if (!wait_for_lock(fd, limit)) {
        return make_failure(
            errc::state_locked,
            "state file " + state_path + " is in use: its lock is still held " +
                std::to_string(limit.count()) + " ms after its owner (pid " +
                std::to_string(*recorded) +
                ") was found gone; is a process it started (priava-tokend token-request) stuck? "
                "only one process may own a refresh token");
    }
    return *recorded;
}

} // namespace

outcome<state_lock> state_lock::acquire(const std::string& state_path, milliseconds orphan_wait) {
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
    const auto started = std::chrono::steady_clock::now();
    std::optional<pid_t> orphaned;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        if (error != EWOULDBLOCK) {
            return make_failure(errc::file_unreadable,
                                "cannot lock " + path + ": " + errno_text(error));
        }
        auto gone = wait_for_orphan(fd.get(), state_path, orphan_wait);
        if (!gone) {
            return gone.error();
        }
        orphaned = *gone;
    }
    // The lock holds even if this fails; only the pid shown to a refused process would be missing.
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) == 0) {
        (void)!::pwrite(fd.get(), pid.data(), pid.size(), 0);
    }
    state_lock lock{std::move(fd)};
    if (orphaned) {
        lock.waited_for_ = orphaned;
        lock.waited_ =
            std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
    }
    return lock;
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

bool state_lock::held_through(int fd, const std::string& state_path) {
    struct stat by_fd {};
    struct stat by_path {};
    if (::fstat(fd, &by_fd) != 0 || ::stat((state_path + ".lock").c_str(), &by_path) != 0 ||
        by_fd.st_dev != by_path.st_dev || by_fd.st_ino != by_path.st_ino) {
        return false;
    }
    // On the open file description that holds the lock this changes nothing; on another one,
    // the holder's lock makes it fail.
    return ::flock(fd, LOCK_EX | LOCK_NB) == 0;
}

unique_fd state_lock::share() const {
    return unique_fd{::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0)};
}

} // namespace priava_tokend
