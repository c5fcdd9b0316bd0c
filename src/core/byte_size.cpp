#include <priava_tokend/core/byte_size.hpp>
#include <priava_tokend/core/parse_number.hpp>

#include <array>
#include <limits>
#include <utility>

namespace priava_tokend {
namespace {

constexpr std::array<std::pair<std::string_view, std::uint64_t>, 4> units{
    {{"GiB", 1ULL << 30}, {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10}, {"B", 1}}};

} // namespace

std::optional<std::uint64_t> parse_byte_size(std::string_view text) {
    const auto digits = text.find_first_not_of("0123456789");
    if (digits == 0 || digits == std::string_view::npos) {
        return std::nullopt;
    }
    const auto value = parse_number<std::uint64_t>(text.substr(0, digits));
    const std::string_view unit = text.substr(digits);
    for (const auto& [name, scale] : units) {
        if (unit == name) {
            if (!value || *value > std::numeric_limits<std::uint64_t>::max() / scale) {
                return std::nullopt;
            }
            return *value * scale;
        }
    }
    return std::nullopt;
}

std::string format_byte_size(std::uint64_t bytes) {
    for (const auto& [name, scale] : units) {
        if (bytes != 0 && bytes % scale == 0) {
            return std::to_string(bytes / scale) + std::string(name);
        }
    }
    return "0B";
}

} // namespace priava_tokend
