#include "known_keys.hpp"

#include "config_reader.hpp"

#include <priava_tokend/core/trim.hpp>

#include <algorithm>
#include <cctype>

namespace priava_tokend {
namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

/// A key as it would be written in the file: bare when it can be, else quoted (`""` for the
/// empty key, which TOML allows and a problem report must still name).
std::string written_key(std::string_view key) {
    const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? std::string(key) : "\"" + std::string(key) + "\"";
}

} // namespace

std::string env_name(std::string_view section, std::string_view key) {
    return std::string(env_prefix) + upper(section) + "_" + upper(key);
}

std::string suggest_key(std::string_view section, std::string_view key) {
    std::string best;
    std::size_t best_distance = 3;
    std::string listed;
    for (const auto& k : known_keys) {
        const std::string full = std::string(k.section) + "." + std::string(k.key);
        const std::size_t d = edit_distance(std::string(section) + "." + std::string(key), full);
        if (d < best_distance) {
            best_distance = d;
            best = full;
        }
        if (k.section == section) {
            listed += (listed.empty() ? "" : ", ") + std::string(k.key);
        }
    }
    if (!best.empty()) {
        return "did you mean " + best + "?";
    }
    if (!listed.empty()) {
        return "remove it; [" + std::string(section) + "] takes " + listed;
    }
    return "remove it; the sections are priava, bootstrap, refresh, state, listen, proxy, cluster, "
           "log";
}

void report_unknown_keys(const toml::table& file, std::string_view source,
                         std::vector<config_problem>& problems) {
    for (const auto& [section_key, section_node] : file) {
        const std::string_view section = section_key.str();
        const auto where = file_location(source, section_node.source().begin.line);
        const bool known_section = std::any_of(known_keys.begin(), known_keys.end(),
                                               [&](const auto& k) { return k.section == section; });
        if (!known_section || !section_node.is_table()) {
            problems.push_back({written_key(section),
                                (known_section ? "must be a table" : "unknown section") +
                                    std::string(" (") + where + ")",
                                known_section ? "write it as [" + std::string(section) + "]"
                                              : suggest_key(section, "")});
            continue;
        }
        for (const auto& [key_node, value] : *section_node.as_table()) {
            // Named copies: clang 14 cannot capture structured bindings in lambdas.
            const std::string_view key = key_node.str();
            const toml::node& node = value;
            const bool known =
                std::any_of(known_keys.begin(), known_keys.end(),
                            [&](const auto& k) { return k.section == section && k.key == key; });
            if (!known) {
                std::string fix = key == "client_secret"
                                      ? "never put the secret in the config: use "
                                        "client_secret_file, LoadCredential= or "
                                        "PRIAVA_CLIENT_SECRET"
                                      : suggest_key(section, key);
                problems.push_back(
                    {std::string(section) + "." + written_key(key),
                     "unknown key (" + file_location(source, node.source().begin.line) + ")",
                     std::move(fix)});
            }
        }
    }
}

void report_unknown_variables(const environment& env, std::vector<config_problem>& problems) {
    for (const auto& entry : env.all()) {
        const std::string& name = entry.first;
        // Only variables that name a section are taken for keys, so PRIAVA_TOKEND_VERSION or the
        // like in a container's environment is left alone while a mistyped key is caught.
        const bool names_section =
            std::any_of(known_keys.begin(), known_keys.end(), [&](const auto& k) {
                return name.starts_with(std::string(env_prefix) + upper(k.section) + "_");
            });
        if (!names_section || std::find(non_key_variables.begin(), non_key_variables.end(), name) !=
                                  non_key_variables.end()) {
            continue;
        }
        const bool known = std::any_of(known_keys.begin(), known_keys.end(), [&](const auto& k) {
            return env_name(k.section, k.key) == name;
        });
        if (known && trim(entry.second).empty()) {
            // Taken as "no value" it could silently widen access (an empty allow_uids lets
            // everyone in) or drop a setting of the file: say so instead.
            problems.push_back({name, "is set but empty",
                                "unset it to keep the config file's value (or the default), or "
                                "give it a value; for a list, [] means an empty list"});
        } else if (!known) {
            problems.push_back({name, "unknown environment variable",
                                name.find("SECRET") != std::string::npos
                                    ? "the client secret comes from PRIAVA_CLIENT_SECRET, "
                                      "a secret file or LoadCredential="
                                    : "unset it; variables are PRIAVA_TOKEND_<SECTION>_<KEY> "
                                      "for the keys of the config file"});
        }
    }
}

} // namespace priava_tokend
