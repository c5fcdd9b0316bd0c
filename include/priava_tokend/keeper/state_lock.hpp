#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/unique_fd.hpp>

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

  private:
    explicit state_lock(unique_fd fd) noexcept
        : fd_(std::move(fd)) {}
    unique_fd fd_;
};

} // namespace priava_tokend
