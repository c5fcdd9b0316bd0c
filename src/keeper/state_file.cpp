#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

namespace json = boost::json;

constexpr std::int64_t format_version = 1;
constexpr std::size_t largest_state_file = 64 * 1024;
constexpr std::string_view temporary_marker = ".tmp-";

std::string errno_text(int error) {
    return std::strerror(error);
}

class file_descriptor {
  public:
    explicit file_descriptor(int fd) noexcept
        : fd_(fd) {}
    file_descriptor(const file_descriptor&) = delete;
    file_descriptor& operator=(const file_descriptor&) = delete;
    ~file_descriptor() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    int get() const noexcept { return fd_; }
    /// Closes now and reports close's error (which can carry a delayed write error).
    int close() noexcept {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }

  private:
    int fd_;
};

std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    if (slash == std::string::npos) {
        return ".";
    }
    return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

failure corrupt(const std::string& what) {
    return make_failure(errc::state_corrupt, what);
}

std::optional<wall_time> time_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v != nullptr && v->is_string() ? parse_rfc3339(v->get_string()) : std::nullopt;
}

/// 0 or the errno of the failed write.
int write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return 0;
}

} // namespace

std::string sha256_hex(std::string_view text) {
    // OpenSSL's low-level SHA-256 (deprecated in 3.0, still supported) rather than EVP: EVP
    // loads and initialises the provider machinery, 2 MB of resident memory and milliseconds of
    // start-up the daemon otherwise needs only when it talks TLS to Priava.
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, text.data(), text.size());
    SHA256_Final(digest, &ctx);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < SHA256_DIGEST_LENGTH; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0x0F]);
    }
    return out;
}

std::string credential_fingerprint(const config::priava_section& priava) {
    std::string text = priava.token_url;
    text += '\n';
    text += priava.client_id;
    text += '\n';
    text += to_string(priava.region);
    return sha256_hex(text);
}

secret encode_state(const stored_tokens& tokens, std::string_view fingerprint) {
    json::object o;
    o["format"] = format_version;
    o["credential"] = fingerprint;
    o["refresh_token"] = tokens.refresh_token.reveal();
    o["access_token"] = tokens.access_token.reveal();
    o["token_type"] = "Bearer";
    o["expires_at"] = format_rfc3339(tokens.expires_at);
    o["received_at"] = format_rfc3339(tokens.received_at);
    o["generation"] = tokens.generation;
    if (!tokens.bootstrap_code_sha256.empty()) {
        o["bootstrap_code_sha256"] = tokens.bootstrap_code_sha256;
    }
    return secret{json::serialize(o) + "\n"};
}

outcome<stored_tokens> decode_state(std::string_view text, std::string_view fingerprint) {
    boost::system::error_code ec;
    const json::value root = json::parse(text, ec);
    if (ec) {
        return corrupt("is not valid JSON (" + ec.message() + ")");
    }
    const auto* o = root.if_object();
    if (o == nullptr) {
        return corrupt("is not a JSON object");
    }
    const auto* format = o->if_contains("format");
    if (format == nullptr || !format->is_int64()) {
        return corrupt("has no format version");
    }
    if (format->get_int64() != format_version) {
        return corrupt("has format " + std::to_string(format->get_int64()) +
                       "; this priava-tokend reads format " + std::to_string(format_version) +
                       " (was it written by a newer version?)");
    }
    const auto* credential = o->if_contains("credential");
    if (credential == nullptr || !credential->is_string()) {
        return corrupt("has no credential fingerprint");
    }
    if (credential->get_string() != fingerprint) {
        return make_failure(errc::state_foreign,
                            "was made for another token_url, client_id or region");
    }
    stored_tokens t;
    for (const auto& [name, into] : {std::pair{"refresh_token", &t.refresh_token},
                                     std::pair{"access_token", &t.access_token}}) {
        const auto* v = o->if_contains(name);
        if (v == nullptr || !v->is_string() || v->get_string().empty() ||
            !is_token_text(v->get_string())) {
            return corrupt(std::string("has no valid ") + name);
        }
        *into = secret{std::string(v->get_string())};
    }
    const auto expires = time_field(*o, "expires_at");
    const auto received = time_field(*o, "received_at");
    if (!expires || !received) {
        return corrupt("has no valid expires_at/received_at");
    }
    t.expires_at = *expires;
    t.received_at = *received;
    const auto* generation = o->if_contains("generation");
    if (generation == nullptr || !(generation->is_uint64() || generation->is_int64()) ||
        (generation->is_int64() && generation->get_int64() < 0)) {
        return corrupt("has no valid generation");
    }
    t.generation = generation->is_uint64() ? generation->get_uint64()
                                           : static_cast<std::uint64_t>(generation->get_int64());
    if (const auto* code = o->if_contains("bootstrap_code_sha256")) {
        if (!code->is_string()) {
            return corrupt("has an invalid bootstrap_code_sha256");
        }
        t.bootstrap_code_sha256 = std::string(code->get_string());
    }
    return t;
}

outcome<stored_tokens> read_state_file(const std::string& path, std::string_view fingerprint) {
    file_descriptor fd{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)};
    if (fd.get() < 0) {
        const int error = errno;
        if (error == ENOENT) {
            return make_failure(errc::state_missing, "no state file at " + path);
        }
        return make_failure(errc::file_unreadable,
                            "cannot open state file " + path + ": " + errno_text(error));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return make_failure(errc::file_unreadable,
                            "cannot stat state file " + path + ": " + errno_text(errno));
    }
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
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return make_failure(errc::file_insecure,
                            "state file " + path + " has mode " + mode +
                                "; it holds the refresh token and must be private: chmod 600 " +
                                path);
    }
    if (static_cast<std::size_t>(st.st_size) > largest_state_file) {
        return make_failure(errc::state_corrupt, "state file " + path + " is larger than 64 KiB");
    }
    std::string data(static_cast<std::size_t>(st.st_size) + 1, '\0');
    std::size_t got = 0;
    while (got < data.size()) {
        const ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return make_failure(errc::file_unreadable,
                                "cannot read state file " + path + ": " + errno_text(errno));
        }
        if (n == 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    const secret contents{std::move(data)};
    auto decoded = decode_state(contents.reveal(), fingerprint);
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
    const std::string dir = directory_of(path);
    unsigned char random[6] = {};
    // Uniqueness only (O_EXCL guards the rest); the kernel's generator needs no OpenSSL init.
    (void)!::getrandom(random, sizeof random, 0);
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x%02x%02x", random[0], random[1],
                  random[2], random[3], random[4], random[5]);
    const std::string temporary =
        dir + "/." + base_name(path) + std::string(temporary_marker) + suffix;
    const auto fail = [&](const char* step, int error) {
        ::unlink(temporary.c_str());
        return make_failure(errc::state_write_failed, "cannot write state file " + path + " (" +
                                                          step + "): " + errno_text(error));
    };

    file_descriptor fd{
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)};
    if (fd.get() < 0) {
        return make_failure(errc::state_write_failed, "cannot write state file " + path +
                                                          " (create temporary in " + dir +
                                                          "): " + errno_text(errno));
    }
    if (const int error = write_all(fd.get(), text.reveal()); error != 0) {
        return fail("write", error);
    }
    if (::fsync(fd.get()) != 0) {
        return fail("fsync", errno);
    }
    if (fd.close() != 0) {
        return fail("close", errno);
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        return fail("rename", errno);
    }
    file_descriptor dir_fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir_fd.get() < 0 || ::fsync(dir_fd.get()) != 0) {
        // The new file is in place; only its durability across a power cut is in doubt.
        return make_failure(errc::state_write_failed, "state file " + path +
                                                          " replaced but fsync of " + dir +
                                                          " failed: " + errno_text(errno));
    }
    return {};
}

void remove_stale_temporaries(const std::string& path) {
    const std::string dir = directory_of(path);
    const std::string prefix = "." + base_name(path) + std::string(temporary_marker);
    DIR* d = ::opendir(dir.c_str());
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
