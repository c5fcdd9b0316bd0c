#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace priava_tokend {

/// The Priava tenant's region, sent as the `TenantRegion` header with every request.
enum class region { apac, eu, us };

inline constexpr std::array<std::pair<std::string_view, region>, 3> all_regions{
    {{"APAC", region::apac}, {"EU", region::eu}, {"US", region::us}}};

/// `APAC`, `EU` or `US`: the `TenantRegion` header value.
std::string_view to_string(region r) noexcept;
/// The region named `APAC`, `EU` or `US`; nothing for any other text.
std::optional<region> parse_region(std::string_view text) noexcept;

} // namespace priava_tokend
