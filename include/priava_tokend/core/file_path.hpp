#pragma once

#include <string>
#include <string_view>

namespace priava_tokend {

/// The directory part of `path`: "/var/lib/x" for "/var/lib/x/state.json", "/" for "/a", "."
/// for a name without a slash.
std::string directory_of(std::string_view path);

/// The last component of `path`: "state.json" for "/var/lib/x/state.json".
std::string base_name(std::string_view path);

} // namespace priava_tokend
