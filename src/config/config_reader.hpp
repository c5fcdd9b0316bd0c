#pragma once

// Private to the config part: the reader of keys, from the environment or the TOML file.

#include <priava_tokend/config/config.hpp>

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace priava_tokend {

/// Where in the config file a problem is: `source:line`, or `source:line:column`.
std::string file_location(std::string_view source, std::size_t line, std::size_t column = 0);

/// Reads each key from the environment (`PRIAVA_TOKEND_<SECTION>_<KEY>` wins) or the file,
/// checks its type and reports problems with the key, the origin of the value and a fix. Each
/// typed read returns nothing when the key is absent or wrong (then with a problem reported).
class config_reader {
  public:
    config_reader(const toml::table& file, std::string_view source, const environment& env,
                  std::vector<config_problem>& problems)
        : file_(file)
        , source_(source)
        , env_(env)
        , problems_(problems) {}

    /// A value as found: a node of the file, or text from the environment.
    struct raw {
        const toml::node* node = nullptr; ///< from the file
        std::string text;                 ///< from the environment
        std::string origin;
    };

    std::optional<raw> find(std::string_view section, std::string_view key) const;
    void problem(std::string_view section, std::string_view key, std::string message,
                 std::string fix, const std::string& origin = {});
    /// Where the key's value came from ("environment variable ...", "file:line"), or empty.
    std::string origin(std::string_view section, std::string_view key) const;

    std::optional<std::string> string(std::string_view section, std::string_view key);
    /// A non-empty string without control characters.
    std::optional<std::string> text(std::string_view section, std::string_view key);
    /// A duration in [low, high]: every duration has an upper bound, so that no setting can
    /// overflow the clocks it is added to.
    std::optional<milliseconds> duration(std::string_view section, std::string_view key,
                                         milliseconds low, milliseconds high);
    std::optional<double> number(std::string_view section, std::string_view key);
    std::optional<std::int64_t> integer(std::string_view section, std::string_view key);
    std::optional<bool> boolean(std::string_view section, std::string_view key);
    /// `[1000, 1001]` in the file; "1000,1001" (brackets optional) in the environment.
    std::optional<std::vector<std::uint32_t>> id_list(std::string_view section,
                                                      std::string_view key);

    /// `["a", "b"]` in the file; "a,b" in the environment. Each element is text.
    std::optional<std::vector<std::string>> text_list(std::string_view section,
                                                      std::string_view key);

  private:
    std::optional<std::int64_t> parse_integer(std::string_view section, std::string_view key,
                                              std::string_view t, const std::string& where);

    const toml::table& file_;
    std::string_view source_;
    const environment& env_;
    std::vector<config_problem>& problems_;
};

/// A whole number in [low, high] into `out`; otherwise a problem that names the range and
/// offers `out` (the default) as the example.
void read_count(config_reader& in, std::string_view section, std::string_view key, std::int64_t low,
                std::int64_t high, std::size_t& out);

/// One of `choices` by its name; a problem naming them all otherwise.
template <class Enum, std::size_t N>
std::optional<Enum> pick(config_reader& in, std::string_view section, std::string_view key,
                         const std::array<std::pair<std::string_view, Enum>, N>& choices) {
    const auto value = in.string(section, key);
    if (!value) {
        return std::nullopt;
    }
    std::string names;
    for (const auto& [name, e] : choices) {
        if (*value == name) {
            return e;
        }
        names += (names.empty() ? "" : ", ") + std::string(name);
    }
    in.problem(section, key, "'" + *value + "' is not one of " + names, "use one of " + names,
               in.origin(section, key));
    return std::nullopt;
}

} // namespace priava_tokend
