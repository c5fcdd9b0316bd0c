#pragma once

#include <priava_tokend/core/error.hpp>

#include <optional>
#include <string>

#include <sys/types.h>

namespace priava_tokend {

/// An exclusive `flock` on `<state path>.lock`, held for the owner's lifetime. The state file
/// itself is replaced by rename, so a lock on it would not last; the lock file is never removed.
/// The holder writes its pid into the file so that a refused process can name it.
class state_lock {
  public:
    /// `state_locked` (naming the holder's pid) if another process holds it.
    static outcome<state_lock> acquire(const std::string& state_path);

    /// The pid of the process holding the lock (0 if it did not record one), or nothing when the
    /// lock is free. Does not take the lock.
    static std::optional<pid_t> holder(const std::string& state_path);

    state_lock(state_lock&& other) noexcept
        : fd_(other.fd_) {
        other.fd_ = -1;
    }
    state_lock& operator=(state_lock&& other) noexcept;
    state_lock(const state_lock&) = delete;
    state_lock& operator=(const state_lock&) = delete;
    ~state_lock();

  private:
    explicit state_lock(int fd) noexcept
        : fd_(fd) {}
    int fd_ = -1;
};

} // namespace priava_tokend
