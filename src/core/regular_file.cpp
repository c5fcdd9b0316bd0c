#include <priava_tokend/core/byte_size.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/fd_io.hpp>
#include <priava_tokend/core/regular_file.hpp>

#include <cerrno>

#include <sys/stat.h>

namespace priava_tokend {

outcome<unique_fd> open_regular_file(const std::string& path, std::string_view name, int flags) {
    unique_fd fd{::open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC)};
    if (!fd.valid()) {
        return make_failure(errc::file_unreadable,
                            "cannot open " + std::string(name) + ": " + errno_text(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        return make_failure(errc::file_unreadable,
                            "cannot stat " + std::string(name) + ": " + errno_text(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        return make_failure(errc::file_unreadable, std::string(name) + " is not a regular file");
    }
    const int status = ::fcntl(fd.get(), F_GETFL);
    if (status != -1) {
        ::fcntl(fd.get(), F_SETFL, status & ~O_NONBLOCK);
    }
    return fd;
}

outcome<std::string> read_regular_file(const std::string& path, std::string_view name,
                                       std::size_t limit) {
    auto fd = open_regular_file(path, name);
    if (!fd) {
        return fd.error();
    }
    auto text = read_up_to(fd->get(), limit);
    if (!text) {
        return make_failure(errc::file_unreadable,
                            "cannot read " + std::string(name) + ": " + errno_text(text.error()));
    }
    if (text->size() > limit) {
        return make_failure(errc::file_unreadable,
                            std::string(name) + " is larger than " + format_byte_size(limit));
    }
    return std::move(*text);
}

} // namespace priava_tokend
