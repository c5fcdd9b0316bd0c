#include <priava_tokend/core/unique_fd.hpp>

#include <unistd.h>

namespace priava_tokend {

void unique_fd::reset(int fd) noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
}

int unique_fd::close() noexcept {
    return ::close(std::exchange(fd_, -1));
}

} // namespace priava_tokend
