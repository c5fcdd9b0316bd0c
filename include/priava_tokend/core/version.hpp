#pragma once

#include <string_view>

namespace priava_tokend {

/// The release, e.g. "0.1.0" (from the CMake project version).
std::string_view version() noexcept;

} // namespace priava_tokend
