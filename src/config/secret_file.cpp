#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

constexpr std::size_t largest_secret_file = 4096;

bool under(const std::string& path, const std::string& dir) {
    return !dir.empty() && path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           (dir.back() == '/' || path[dir.size()] == '/');
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

} // namespace

outcome<secret> read_secret_file(const std::string& path, std::string_view what,
                                 bool must_be_private, const environment& env) {
    const std::string name(what);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return make_failure(errc::file_unreadable,
                            "cannot read " + name + " file " + path + ": " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return make_failure(errc::file_unreadable,
                            name + " file " + path + " is not a regular file");
    }
    const auto credentials = env.get("CREDENTIALS_DIRECTORY").value_or("");
    if (must_be_private && (st.st_mode & 077) != 0 && !under(path, "/run/secrets/") &&
        !under(path, credentials)) {
        ::close(fd);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return make_failure(errc::file_insecure, name + " file " + path + " has mode " + mode +
                                                     "; other users could read it: chmod 600 " +
                                                     path);
    }
    std::string text(largest_secret_file + 1, '\0');
    std::size_t got = 0;
    for (;;) {
        const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
        if (got == text.size()) {
            break;
        }
    }
    ::close(fd);
    secret guard{std::move(text)}; // wiped whatever happens below
    std::string_view value = guard.reveal().substr(0, got);
    if (got > largest_secret_file) {
        return make_failure(errc::file_unreadable,
                            name + " file " + path + " is larger than 4 KiB");
    }
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
        value.remove_suffix(1);
    }
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
        value.remove_prefix(1);
    }
    if (value.empty()) {
        return make_failure(errc::file_unreadable, name + " file " + path + " is empty");
    }
    if (!is_token_text(value)) {
        return make_failure(
            errc::file_unreadable,
            name + " file " + path +
                " holds spaces or control characters; it must hold the value alone");
    }
    return secret{std::string(value)};
}

outcome<sourced_secret> resolve_client_secret(const config::priava_section& priava,
                                              const environment& env) {
    const auto from_file = [&](const std::string& path) -> outcome<sourced_secret> {
        auto s = read_secret_file(path, "client secret", true, env);
        if (!s) {
            return s.error();
        }
        return sourced_secret{std::move(*s), "file " + path};
    };
    if (priava.client_secret_file) {
        return from_file(*priava.client_secret_file);
    }
    if (auto dir = env.get("CREDENTIALS_DIRECTORY"); dir && !dir->empty()) {
        const std::string path = *dir + "/client_secret";
        if (exists(path)) {
            return from_file(path);
        }
    }
    if (exists(docker_client_secret_path)) {
        return from_file(docker_client_secret_path);
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
