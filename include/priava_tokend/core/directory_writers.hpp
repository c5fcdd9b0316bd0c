#pragma once

#include <priava_tokend/core/error.hpp>

#include <string>
#include <string_view>

namespace priava_tokend {

/// Refuses (`file_insecure`, naming `what` and the fix) a directory that group or others may
/// write, sticky or not: whoever can write there can plant links where the state, its lock or
/// the socket will be, or squat their names. A directory that does not exist passes: opening what
/// should be in it reports that.
outcome<void> check_directory_writers(const std::string& dir, std::string_view what);

/// As above, and the directory must belong to root or to this process's user: `run` must not
/// keep its refresh token in a directory another user controls.
outcome<void> check_state_directory_owner(const std::string& dir, std::string_view what);

/// Both checks for the daemon's own directories: the state file's (`state.path`) and the
/// socket's (`listen.socket`). `owner_too` adds the owner check of the state directory (`run`).
outcome<void> check_daemon_directories(const std::string& state_path,
                                       const std::string& socket_path, bool owner_too);

} // namespace priava_tokend
