#include <priava_tokend/core/environment.hpp>

#include <unistd.h>

namespace priava_tokend {

environment environment::from_process() {
    std::map<std::string, std::string, std::less<>> vars;
    for (char** entry = ::environ; entry != nullptr && *entry != nullptr; ++entry) {
        const std::string_view text{*entry};
        const auto eq = text.find('=');
        if (eq != std::string_view::npos) {
            vars.emplace(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
        }
    }
    return environment{std::move(vars)};
}

std::optional<std::string> environment::get(std::string_view name) const {
    const auto it = vars_.find(name);
    if (it == vars_.end()) {
        return std::nullopt;
    }
    return it->second;
}

} // namespace priava_tokend
