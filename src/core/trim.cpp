#include <priava_tokend/core/trim.hpp>

namespace priava_tokend {

std::string_view trim(std::string_view text) noexcept {
    constexpr std::string_view space = " \t\r\n\v\f";
    const auto first = text.find_first_not_of(space);
    if (first == std::string_view::npos) {
        return {};
    }
    return text.substr(first, text.find_last_not_of(space) - first + 1);
}

} // namespace priava_tokend
