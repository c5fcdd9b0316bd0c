#include <priava_tokend/core/errno_text.hpp>

#include <cstring>

namespace priava_tokend {

std::string errno_text(int error) {
    char buffer[256];
    // The GNU strerror_r: returns the text, in `buffer` or a static string.
    return ::strerror_r(error, buffer, sizeof buffer);
}

} // namespace priava_tokend
