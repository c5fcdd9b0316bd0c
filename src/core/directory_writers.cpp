#include <priava_tokend/core/directory_writers.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/file_mode.hpp>
#include <priava_tokend/core/file_path.hpp>

#include <cerrno>

#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {

outcome<void> check_directory_writers(const std::string& dir, std::string_view what) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
        return {};
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        return make_failure(errc::file_insecure,
                            std::string(what) + " " + dir + " has mode " + octal_mode(st.st_mode) +
                                ": other users may write there, so they could plant links or "
                                "take names in it; use a directory only root and the daemon's "
                                "user can write (chmod go-w " +
                                dir + ", or another directory)");
    }
    return {};
}

outcome<void> check_state_directory_owner(const std::string& dir, std::string_view what) {
    if (auto writers = check_directory_writers(dir, what); !writers) {
        return writers;
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && st.st_uid != 0 && st.st_uid != ::geteuid()) {
        return make_failure(errc::file_insecure,
                            std::string(what) + " " + dir + " belongs to uid " +
                                std::to_string(st.st_uid) + ", not to this process's user (uid " +
                                std::to_string(::geteuid()) +
                                ") or root; run the daemon as its owner, or chown it");
    }
    return {};
}

outcome<void> check_daemon_directories(const std::string& state_path,
                                       const std::string& socket_path, bool owner_too) {
    const std::string state_dir = directory_of(state_path);
    auto state = owner_too ? check_state_directory_owner(state_dir, "state directory (state.path)")
                           : check_directory_writers(state_dir, "state directory (state.path)");
    if (!state) {
        return state;
    }
    return check_directory_writers(directory_of(socket_path), "socket directory (listen.socket)");
}

} // namespace priava_tokend
