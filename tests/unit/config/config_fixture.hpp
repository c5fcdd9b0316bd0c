#pragma once

#include <priava_tokend/config/config.hpp>

#include <algorithm>
#include <string>
#include <string_view>

namespace priava_tokend::testing {

/// The `[priava]` section every configuration needs, and nothing else.
inline constexpr std::string_view minimal = R"(
[priava]
token_url    = "https://api.priava.com/api/rest/oauth/token"
region       = "EU"
client_id    = "client-1"
redirect_uri = "https://my.app.com/oauth2callback"
)";

inline loaded_config parse(std::string_view text, environment env = {}) {
    return parse_config(text, "test.toml", env);
}

/// The first problem with `key` (`refresh.min_backoff`), or null.
inline const config_problem* find_problem(const loaded_config& c, std::string_view key) {
    const auto it = std::find_if(c.problems.begin(), c.problems.end(),
                                 [&](const auto& p) { return p.key == key; });
    return it == c.problems.end() ? nullptr : &*it;
}

/// Every problem, one per line, for a failure message.
inline std::string describe(const loaded_config& c) {
    std::string out;
    for (const auto& p : c.problems) {
        out += p.key + ": " + p.message + " -> " + p.fix + "\n";
    }
    return out;
}

} // namespace priava_tokend::testing
