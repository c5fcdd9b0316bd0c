#pragma once

#include <string>

#include <sys/types.h>

namespace priava_tokend {

/// A file's permission bits as chmod takes them: "0600", "2755".
std::string octal_mode(mode_t mode);

} // namespace priava_tokend
