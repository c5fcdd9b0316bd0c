#pragma once

#include <utility>

namespace priava_tokend {

/// The owner of a file descriptor: closes it when it goes, unless released. Every descriptor the
/// daemon opens outside Asio lives in one of these.
class unique_fd {
  public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept
        : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) {
            reset(std::exchange(other.fd_, -1));
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }

    /// Gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the descriptor held (if any) and takes `fd`.
    void reset(int fd = -1) noexcept;
    /// Closes now and returns close(2)'s result: 0, or -1 with errno set (a delayed write error,
    /// for files that must be known to be written).
    int close() noexcept;

  private:
    int fd_ = -1;
};

} // namespace priava_tokend
