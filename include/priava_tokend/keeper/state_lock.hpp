#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/unique_fd.hpp>

#include <chrono>
#include <optional>
#include <string>

#include <sys/types.h>

namespace priava_tokend {

/// An exclusive `flock` on `<state path>.lock`, held for the owner's lifetime. The state file
/// itself is replaced by rename, so a lock on it would not last; the lock file is never removed.
/// The holder writes its pid into the file so that a refused process can name it.
///
/// The daemon hands the lock on to its token request processes (`share`): a process that
/// outlives a killed daemon to store Priava's answer keeps holding it
/// (docs/state-file.md#the-lock).
class state_lock {
  public:
    /// `state_locked` (naming the holder's pid) if another process holds it. When the pid
    /// recorded in the file is gone but the lock is still held — a token request process that
    /// outlived its daemon, storing Priava's answer — waits up to `orphan_wait` for it to be
    /// released; a live recorded holder is refused at once. Blocks the calling thread while it
    /// waits, and takes SIGALRM for its deadline meanwhile.
    static outcome<state_lock> acquire(const std::string& state_path,
                                       std::chrono::milliseconds orphan_wait = {});

    /// The pid of the process holding the lock (0 if it did not record one), or nothing when the
    /// lock is free. Does not take the lock.
    static std::optional<pid_t> holder(const std::string& state_path);

    /// True when `fd` is a descriptor of `<state_path>.lock` whose open file description holds
    /// the lock: one handed on by `share`, in the process that inherited it.
    static bool held_through(int fd, const std::string& state_path);

    /// A new descriptor of the same open file description (close-on-exec): whoever inherits it
    /// holds the lock with this one, until both are closed. Invalid if the system refuses one.
    unique_fd share() const;

    /// The gone holder whose orphaned lock `acquire` waited for, and how long; nothing when the
    /// lock was free.
    std::optional<pid_t> waited_for() const noexcept { return waited_for_; }
    std::chrono::milliseconds waited() const noexcept { return waited_; }

  private:
    explicit state_lock(unique_fd fd) noexcept
        : fd_(std::move(fd)) {}
    unique_fd fd_;
    std::optional<pid_t> waited_for_;
    std::chrono::milliseconds waited_{};
};

} // namespace priava_tokend
