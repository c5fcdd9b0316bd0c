#include <priava_tokend/core/file_mode.hpp>

#include <cstdio>

namespace priava_tokend {

std::string octal_mode(mode_t mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
    return text;
}

} // namespace priava_tokend
