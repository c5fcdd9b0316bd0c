#include <priava_tokend/core/unique_fd.hpp>
#include <priava_tokend/daemon/process_limits.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace priava_tokend {

void raise_descriptor_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

void reserve_descriptor_table(std::size_t descriptors) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur <= descriptors) {
        return;
    }
    // A descriptor that high, closed again at once: the table stays grown.
    const unique_fd high{::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, static_cast<int>(descriptors))};
}

} // namespace priava_tokend
