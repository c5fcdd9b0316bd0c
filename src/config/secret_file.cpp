#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/fd_io.hpp>
#include <priava_tokend/core/file_mode.hpp>
#include <priava_tokend/core/regular_file.hpp>
#include <priava_tokend/core/trim.hpp>
#include <priava_tokend/core/unique_fd.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

bool under(const std::string& path, const std::string& dir) {
    return !dir.empty() && path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           (dir.back() == '/' || path[dir.size()] == '/');
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

} // namespace

outcome<secret> secret_from_text(std::string text, std::string_view where) {
    const secret guard{std::move(text)}; // wiped whatever happens below
    if (guard.reveal().size() > largest_secret_text) {
        return make_failure(errc::file_unreadable, std::string(where) + " is larger than 4 KiB");
    }
    const std::string_view value = trim(guard.reveal());
    if (value.empty()) {
        return make_failure(errc::file_unreadable, std::string(where) + " is empty");
    }
    if (!is_token_text(value)) {
        return make_failure(
            errc::file_unreadable,
            std::string(where) +
                " holds spaces or control characters; it must hold the value alone");
    }
    return secret{std::string(value)};
}

outcome<secret> read_secret_file(const std::string& path, std::string_view name,
                                 bool must_be_private, const environment& env) {
    auto fd = open_regular_file(path, name);
    if (!fd) {
        return fd.error();
    }
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) {
        return make_failure(errc::file_unreadable,
                            "cannot stat " + std::string(name) + ": " + errno_text(errno));
    }
    const auto credentials = env.get("CREDENTIALS_DIRECTORY").value_or("");
    if (must_be_private && (st.st_mode & 077) != 0 && !under(path, "/run/secrets/") &&
        !under(path, credentials)) {
        return make_failure(errc::file_insecure, std::string(name) + " has mode " +
                                                     octal_mode(st.st_mode) +
                                                     "; other users could read it: chmod 600 it");
    }
    auto text = read_up_to(fd->get(), largest_secret_text);
    if (!text) {
        return make_failure(errc::file_unreadable,
                            "cannot read " + std::string(name) + ": " + errno_text(text.error()));
    }
    return secret_from_text(std::move(*text), name);
}

outcome<sourced_secret> resolve_client_secret(const config::priava_section& priava,
                                              const environment& env) {
    // `source` names the file in logs and messages.
    const auto from_file = [&](const std::string& path,
                               const std::string& source) -> outcome<sourced_secret> {
        auto s = read_secret_file(path, "the client secret " + source, true, env);
        if (!s) {
            return s.error();
        }
        return sourced_secret{std::move(*s), source};
    };
    if (priava.client_secret_file) {
        // Not the path: a secret pasted into client_secret_file must not reach a log.
        return from_file(*priava.client_secret_file, "file of priava.client_secret_file");
    }
    if (auto dir = env.get("CREDENTIALS_DIRECTORY"); dir && !dir->empty()) {
        const std::string path = *dir + "/client_secret";
        if (exists(path)) {
            return from_file(path, "file " + path);
        }
    }
    if (exists(docker_client_secret_path)) {
        return from_file(docker_client_secret_path,
                         "file " + std::string(docker_client_secret_path));
    }
    if (auto value = env.get("PRIAVA_CLIENT_SECRET"); value && !value->empty()) {
        if (!is_token_text(*value)) {
            return make_failure(errc::config_invalid,
                                "PRIAVA_CLIENT_SECRET holds spaces or control characters");
        }
        return sourced_secret{secret{std::move(*value)},
                              "environment variable PRIAVA_CLIENT_SECRET"};
    }
    return make_failure(errc::config_invalid,
                        "no client secret: set priava.client_secret_file, use systemd "
                        "LoadCredential=client_secret:..., mount a secret at " +
                            std::string(docker_client_secret_path) +
                            ", or set PRIAVA_CLIENT_SECRET");
}

} // namespace priava_tokend
