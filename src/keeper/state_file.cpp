#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/fd_io.hpp>
#include <priava_tokend/core/file_mode.hpp>
#include <priava_tokend/core/file_path.hpp>
#include <priava_tokend/core/unique_fd.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/state_file.hpp>

#include <cerrno>
#include <cstdio>

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

constexpr std::size_t largest_state_file = 64 * 1024;
constexpr std::string_view temporary_marker = ".tmp-";

/// Refuses anything but a regular file of ours that only we may read: it holds the refresh token.
outcome<void> check_private(const std::string& path, const struct stat& st) {
    if (!S_ISREG(st.st_mode)) {
        return make_failure(errc::file_insecure, "state file " + path + " is not a regular file");
    }
    if (st.st_uid != ::geteuid()) {
        return make_failure(errc::file_insecure,
                            "state file " + path + " is owned by uid " + std::to_string(st.st_uid) +
                                ", not by this process (uid " + std::to_string(::geteuid()) +
                                "); chown it to the daemon's user");
    }
    if ((st.st_mode & 077) != 0) {
        return make_failure(errc::file_insecure,
                            "state file " + path + " has mode " + octal_mode(st.st_mode) +
                                "; it holds the refresh token and must be private: chmod 600 " +
                                path);
    }
    return {};
}

/// The file's text, read from `fd` after the checks above.
outcome<secret> read_private(const std::string& path, const unique_fd& fd) {
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return make_failure(errc::file_unreadable,
                            "cannot stat state file " + path + ": " + errno_text(errno));
    }
    if (auto ok = check_private(path, st); !ok) {
        return ok.error();
    }
    auto text = read_up_to(fd.get(), largest_state_file);
    if (!text) {
        return make_failure(errc::file_unreadable,
                            "cannot read state file " + path + ": " + errno_text(text.error()));
    }
    secret contents{std::move(*text)};
    if (contents.reveal().size() > largest_state_file) {
        return make_failure(errc::state_corrupt, "state file " + path + " is larger than 64 KiB");
    }
    return contents;
}

/// `.<name>.tmp-<12 hex digits>` beside the file.
std::string temporary_beside(const std::string& path) {
    unsigned char random[6] = {};
    // Uniqueness only (O_EXCL guards the rest); the kernel's generator needs no OpenSSL init.
    (void)!::getrandom(random, sizeof random, 0);
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x%02x%02x", random[0], random[1],
                  random[2], random[3], random[4], random[5]);
    return directory_of(path) + "/." + base_name(path) + std::string(temporary_marker) + suffix;
}

/// Writes `text` to a new file at `temporary` and makes it durable. On failure: the step that
/// failed and why, "(fsync): No space left on device".
std::optional<std::string> write_durably(const std::string& temporary, std::string_view text) {
    const auto failed = [](std::string step, int error) {
        return "(" + std::move(step) + "): " + errno_text(error);
    };
    unique_fd fd{
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (!fd.valid()) {
        return failed("create temporary in " + directory_of(temporary), errno);
    }
    if (const int error = write_all(fd.get(), text); error != 0) {
        return failed("write", error);
    }
    if (::fsync(fd.get()) != 0) {
        return failed("fsync", errno);
    }
    if (fd.close() != 0) {
        return failed("close", errno);
    }
    return std::nullopt;
}

} // namespace

outcome<stored_tokens> read_state_file(const std::string& path, std::string_view fingerprint) {
    const unique_fd fd{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)};
    if (!fd.valid()) {
        const int error = errno;
        if (error == ENOENT) {
            return make_failure(errc::state_missing, "no state file at " + path);
        }
        return make_failure(errc::file_unreadable,
                            "cannot open state file " + path + ": " + errno_text(error));
    }
    auto contents = read_private(path, fd);
    if (!contents) {
        return contents.error();
    }
    auto decoded = decode_state(contents->reveal(), fingerprint);
    if (!decoded) {
        auto f = decoded.error();
        f.message = "state file " + path + " " + f.message;
        if (f.code == make_error_code(errc::state_corrupt)) {
            f.message += "; it was left untouched: move it aside and run bootstrap with a new code";
        } else if (f.code == make_error_code(errc::state_foreign)) {
            f.message += "; point state.path elsewhere, or run bootstrap --force to replace it";
        }
        return f;
    }
    return decoded;
}

outcome<void> write_state_file(const std::string& path, const secret& text) {
    const std::string temporary = temporary_beside(path);
    auto failed = write_durably(temporary, text.reveal());
    if (!failed && ::rename(temporary.c_str(), path.c_str()) != 0) {
        failed = "(rename): " + errno_text(errno);
    }
    if (failed) {
        ::unlink(temporary.c_str());
        return make_failure(errc::state_write_failed,
                            "cannot write state file " + path + " " + *failed);
    }
    const std::string dir = directory_of(path);
    const unique_fd dir_fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (!dir_fd.valid() || ::fsync(dir_fd.get()) != 0) {
        // The new file is in place; only its durability across a power cut is in doubt.
        return make_failure(errc::state_write_failed, "state file " + path +
                                                          " replaced but fsync of " + dir +
                                                          " failed: " + errno_text(errno));
    }
    return {};
}

void remove_stale_temporaries(const std::string& path) {
    const std::string prefix = "." + base_name(path) + std::string(temporary_marker);
    DIR* d = ::opendir(directory_of(path).c_str());
    if (d == nullptr) {
        return;
    }
    while (const dirent* entry = ::readdir(d)) {
        if (std::string_view{entry->d_name}.starts_with(prefix)) {
            ::unlinkat(::dirfd(d), entry->d_name, 0);
        }
    }
    ::closedir(d);
}

} // namespace priava_tokend
