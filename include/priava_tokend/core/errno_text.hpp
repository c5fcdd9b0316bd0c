#pragma once

#include <string>

namespace priava_tokend {

/// The system's description of an `errno` value ("No space left on device"), thread-safe.
std::string errno_text(int error);

} // namespace priava_tokend
