#include <priava_tokend/priava/region.hpp>

namespace priava_tokend {

std::optional<region> parse_region(std::string_view text) noexcept {
    for (const auto& [name, r] : all_regions) {
        if (name == text) {
            return r;
        }
    }
    return std::nullopt;
}

std::string_view to_string(region r) noexcept {
    for (const auto& [name, known] : all_regions) {
        if (known == r) {
            return name;
        }
    }
    return "APAC";
}

} // namespace priava_tokend
