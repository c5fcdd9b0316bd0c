#pragma once

#include <string_view>

namespace priava_tokend {

/// `text` without leading and trailing white space (space, tab, CR, LF, VT, FF).
std::string_view trim(std::string_view text) noexcept;

} // namespace priava_tokend
