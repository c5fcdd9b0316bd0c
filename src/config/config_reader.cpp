#include "config_reader.hpp"

#include "known_keys.hpp"

#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/core/trim.hpp>

#include <algorithm>
#include <limits>

namespace priava_tokend {
namespace {

bool has_control_chars(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

} // namespace

std::string file_location(std::string_view source, std::size_t line, std::size_t column) {
    std::string where = std::string(source) + ":" + std::to_string(line);
    if (column != 0) {
        where += ":" + std::to_string(column);
    }
    return where;
}

std::optional<config_reader::raw> config_reader::find(std::string_view section,
                                                      std::string_view key) const {
    const std::string var = env_name(section, key);
    // An empty variable is reported once, by report_unknown_variables; the file's value stays.
    if (auto text = env_.get(var); text && !trim(*text).empty()) {
        return raw{nullptr, std::move(*text), "environment variable " + var};
    }
    const toml::node* node = file_.get(section);
    if (node == nullptr || !node->is_table()) {
        return std::nullopt;
    }
    node = node->as_table()->get(key);
    if (node == nullptr) {
        return std::nullopt;
    }
    return raw{node, {}, file_location(source_, node->source().begin.line)};
}

void config_reader::problem(std::string_view section, std::string_view key, std::string message,
                            std::string fix, const std::string& origin) {
    if (!origin.empty()) {
        message += " (" + origin + ")";
    }
    problems_.push_back(
        {std::string(section) + "." + std::string(key), std::move(message), std::move(fix)});
}

std::string config_reader::origin(std::string_view section, std::string_view key) const {
    const auto r = find(section, key);
    return r ? r->origin : std::string{};
}

std::optional<std::string> config_reader::string(std::string_view section, std::string_view key) {
    auto r = find(section, key);
    if (!r) {
        return std::nullopt;
    }
    if (r->node == nullptr) {
        return std::move(r->text);
    }
    if (const auto* s = r->node->as_string()) {
        return s->get();
    }
    problem(section, key, "must be a string", "quote the value: " + std::string(key) + " = \"...\"",
            r->origin);
    return std::nullopt;
}

std::optional<std::string> config_reader::text(std::string_view section, std::string_view key) {
    auto s = string(section, key);
    if (s && (s->empty() || has_control_chars(*s))) {
        problem(section, key, s->empty() ? "is empty" : "contains a control character",
                "set a value or remove the key", origin(section, key));
        return std::nullopt;
    }
    return s;
}

std::optional<milliseconds> config_reader::duration(std::string_view section, std::string_view key,
                                                    milliseconds low, milliseconds high) {
    auto s = string(section, key);
    if (!s) {
        return std::nullopt;
    }
    const auto d = parse_duration(trim(*s));
    if (!d) {
        problem(section, key, "'" + *s + "' is not a duration",
                "write a whole number and a unit: \"500ms\", \"90s\", \"5m\", \"1h\"",
                origin(section, key));
        return std::nullopt;
    }
    if (*d < low || *d > high) {
        problem(section, key,
                low.count() == 0
                    ? "must be at most " + format_duration(high)
                    : "must be between " + format_duration(low) + " and " + format_duration(high),
                "use e.g. \"" + format_duration(std::clamp(*d, low, high)) + "\"",
                origin(section, key));
        return std::nullopt;
    }
    return d;
}

std::optional<double> config_reader::number(std::string_view section, std::string_view key) {
    auto r = find(section, key);
    if (!r) {
        return std::nullopt;
    }
    if (r->node == nullptr) {
        const auto v = parse_number<double>(trim(r->text));
        if (!v) {
            problem(section, key, "'" + r->text + "' is not a number", "use e.g. 0.75", r->origin);
        }
        return v;
    }
    if (const auto* f = r->node->as_floating_point()) {
        return f->get();
    }
    if (const auto* i = r->node->as_integer()) {
        return static_cast<double>(i->get());
    }
    problem(section, key, "must be a number", "use e.g. 0.75", r->origin);
    return std::nullopt;
}

std::optional<std::int64_t> config_reader::integer(std::string_view section, std::string_view key) {
    auto r = find(section, key);
    if (!r) {
        return std::nullopt;
    }
    if (r->node == nullptr) {
        return parse_integer(section, key, trim(r->text), r->origin);
    }
    if (const auto* i = r->node->as_integer()) {
        return i->get();
    }
    problem(section, key, "must be an integer", "write a whole number without quotes", r->origin);
    return std::nullopt;
}

std::optional<bool> config_reader::boolean(std::string_view section, std::string_view key) {
    auto r = find(section, key);
    if (!r) {
        return std::nullopt;
    }
    if (r->node == nullptr) {
        const std::string_view t = trim(r->text);
        if (t == "true" || t == "1") {
            return true;
        }
        if (t == "false" || t == "0") {
            return false;
        }
    } else if (const auto* b = r->node->as_boolean()) {
        return b->get();
    }
    problem(section, key, "must be true or false", "write " + std::string(key) + " = true",
            r->origin);
    return std::nullopt;
}

std::optional<std::vector<std::uint32_t>> config_reader::id_list(std::string_view section,
                                                                 std::string_view key) {
    auto r = find(section, key);
    if (!r) {
        return std::nullopt;
    }
    std::vector<std::uint32_t> ids;
    bool ok = true;
    const auto add = [&](std::optional<std::int64_t> v) {
        if (!v) {
            ok = false;
        } else if (*v < 0 || *v >= std::numeric_limits<std::uint32_t>::max()) {
            problem(section, key, std::to_string(*v) + " is not a valid id",
                    "use numeric ids from 0 to 4294967294", r->origin);
            ok = false;
        } else {
            ids.push_back(static_cast<std::uint32_t>(*v));
        }
    };
    if (r->node == nullptr) {
        std::string_view t = trim(r->text);
        if (t.size() >= 2 && t.front() == '[' && t.back() == ']') {
            t = trim(t.substr(1, t.size() - 2));
        }
        while (!t.empty()) {
            const auto comma = std::min(t.find(','), t.size());
            add(parse_integer(section, key, trim(t.substr(0, comma)), r->origin));
            t = comma < t.size() ? t.substr(comma + 1) : std::string_view{};
        }
    } else if (const auto* arr = r->node->as_array()) {
        for (const auto& element : *arr) {
            if (const auto* i = element.as_integer()) {
                add(i->get());
            } else {
                problem(section, key, "must hold only integers",
                        "write numeric ids: " + std::string(key) + " = [1000, 1001]", r->origin);
                ok = false;
            }
        }
    } else {
        problem(section, key, "must be an array of integers",
                "write " + std::string(key) + " = [1000, 1001]", r->origin);
        ok = false;
    }
    return ok ? std::optional{std::move(ids)} : std::nullopt;
}

std::optional<std::vector<std::string>> config_reader::text_list(std::string_view section,
                                                                 std::string_view key) {
    auto r = find(section, key);
    if (!r) {
        return std::nullopt;
    }
    std::vector<std::string> items;
    bool ok = true;
    const auto add = [&](std::string_view item) {
        if (item.empty() || has_control_chars(item)) {
            problem(section, key,
                    item.empty() ? "holds an empty item" : "holds a control character",
                    "write e.g. " + std::string(key) + " = [\"http://10.0.0.1:2379\"]", r->origin);
            ok = false;
        } else {
            items.emplace_back(item);
        }
    };
    if (r->node == nullptr) {
        std::string_view t = trim(r->text);
        if (t.size() >= 2 && t.front() == '[' && t.back() == ']') {
            t = trim(t.substr(1, t.size() - 2));
        }
        while (!t.empty()) {
            const auto comma = std::min(t.find(','), t.size());
            add(trim(t.substr(0, comma)));
            t = comma < t.size() ? t.substr(comma + 1) : std::string_view{};
        }
    } else if (const auto* arr = r->node->as_array()) {
        for (const auto& element : *arr) {
            if (const auto* str = element.as_string()) {
                add(str->get());
            } else {
                problem(section, key, "must hold only strings",
                        "write " + std::string(key) + " = [\"http://10.0.0.1:2379\"]", r->origin);
                ok = false;
            }
        }
    } else {
        problem(section, key, "must be an array of strings",
                "write " + std::string(key) + " = [\"http://10.0.0.1:2379\"]", r->origin);
        ok = false;
    }
    return ok ? std::optional{std::move(items)} : std::nullopt;
}

std::optional<std::int64_t> config_reader::parse_integer(std::string_view section,
                                                         std::string_view key, std::string_view t,
                                                         const std::string& where) {
    const auto v = parse_number<std::int64_t>(t);
    if (!v) {
        problem(section, key, "'" + std::string(t) + "' is not an integer", "write a whole number",
                where);
    }
    return v;
}

void read_count(config_reader& in, std::string_view section, std::string_view key, std::int64_t low,
                std::int64_t high, std::size_t& out) {
    if (auto n = in.integer(section, key)) {
        if (*n < low || *n > high) {
            in.problem(section, key,
                       "must be between " + std::to_string(low) + " and " + std::to_string(high),
                       "use e.g. " + std::to_string(out), in.origin(section, key));
        } else {
            out = static_cast<std::size_t>(*n);
        }
    }
}

} // namespace priava_tokend
