#include <priava_tokend/config/config.hpp>
#include <priava_tokend/config/toml_text_check.hpp>
#include <priava_tokend/priava/token_endpoint.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <grp.h>

namespace priava_tokend {
namespace {

/// Where in the config file a problem is: `source:line`, or `source:line:column`.
std::string location(std::string_view source, std::size_t line, std::size_t column = 0) {
    std::string where = std::string(source) + ":" + std::to_string(line);
    if (column != 0) {
        where += ":" + std::to_string(column);
    }
    return where;
}

struct known_key {
    std::string_view section;
    std::string_view key;
};

constexpr std::array<known_key, 23> known_keys{{
    {"priava", "token_url"},
    {"priava", "region"},
    {"priava", "client_id"},
    {"priava", "client_secret_file"},
    {"priava", "redirect_uri"},
    {"priava", "ca_file"},
    {"bootstrap", "code_file"},
    {"refresh", "at_lifetime_fraction"},
    {"refresh", "jitter_fraction"},
    {"refresh", "min_backoff"},
    {"refresh", "max_backoff"},
    {"refresh", "request_timeout"},
    {"refresh", "serve_margin"},
    {"refresh", "ready_timeout"},
    {"state", "path"},
    {"listen", "socket"},
    {"listen", "mode"},
    {"listen", "group"},
    {"listen", "allow_uids"},
    {"listen", "allow_gids"},
    {"listen", "max_connections"},
    {"log", "format"},
    {"log", "level"},
}};

/// Variables with the prefix that are not keys: the client commands' own.
constexpr std::array<std::string_view, 2> non_key_variables{"PRIAVA_TOKEND_CONFIG",
                                                            "PRIAVA_TOKEND_SOCKET"};

constexpr std::string_view env_prefix = "PRIAVA_TOKEND_";

std::string upper(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

std::string env_name(std::string_view section, std::string_view key) {
    return std::string(env_prefix) + upper(section) + "_" + upper(key);
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

/// "did you mean refresh.min_backoff?" for a near miss, else the list of keys of the section.
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
    return "remove it; the sections are priava, bootstrap, refresh, state, listen, log";
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
        s.remove_prefix(1);
    }
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
        s.remove_suffix(1);
    }
    return s;
}

bool has_control_chars(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

/// Reads each key from the environment or the file, checks its type and reports problems with
/// the key, the origin of the value and a fix.
class config_reader {
  public:
    config_reader(const toml::table& file, std::string_view source, const environment& env,
                  std::vector<config_problem>& problems)
        : file_(file)
        , source_(source)
        , env_(env)
        , problems_(problems) {}

    struct raw {
        const toml::node* node = nullptr; ///< from the file
        std::string text;                 ///< from the environment
        std::string origin;
    };

    std::optional<raw> find(std::string_view section, std::string_view key) const {
        const std::string var = env_name(section, key);
        if (auto text = env_.get(var)) {
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
        return raw{node, {}, location(source_, node->source().begin.line)};
    }

    void problem(std::string_view section, std::string_view key, std::string message,
                 std::string fix, const std::string& origin = {}) {
        if (!origin.empty()) {
            message += " (" + origin + ")";
        }
        problems_.push_back(
            {std::string(section) + "." + std::string(key), std::move(message), std::move(fix)});
    }

    std::optional<std::string> string(std::string_view section, std::string_view key) {
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
        problem(section, key, "must be a string",
                "quote the value: " + std::string(key) + " = \"...\"", r->origin);
        return std::nullopt;
    }

    /// A non-empty string without control characters, or nothing (problem reported).
    std::optional<std::string> text(std::string_view section, std::string_view key) {
        auto s = string(section, key);
        if (s && (s->empty() || has_control_chars(*s))) {
            problem(section, key, s->empty() ? "is empty" : "contains a control character",
                    "set a value or remove the key", origin(section, key));
            return std::nullopt;
        }
        return s;
    }

    std::optional<milliseconds> duration(std::string_view section, std::string_view key,
                                         bool zero_allowed) {
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
        if (!zero_allowed && d->count() == 0) {
            problem(section, key, "must be greater than zero", "use e.g. \"30s\"",
                    origin(section, key));
            return std::nullopt;
        }
        return d;
    }

    std::optional<double> number(std::string_view section, std::string_view key) {
        auto r = find(section, key);
        if (!r) {
            return std::nullopt;
        }
        if (r->node == nullptr) {
            const std::string_view t = trim(r->text);
            double v = 0;
            const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
            if (t.empty() || ec != std::errc{} || end != t.data() + t.size()) {
                problem(section, key, "'" + r->text + "' is not a number", "use e.g. 0.75",
                        r->origin);
                return std::nullopt;
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

    std::optional<std::int64_t> integer(std::string_view section, std::string_view key) {
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
        problem(section, key, "must be an integer", "write a whole number without quotes",
                r->origin);
        return std::nullopt;
    }

    /// `[1000, 1001]` in the file; "1000,1001" (brackets optional) in the environment.
    std::optional<std::vector<std::uint32_t>> id_list(std::string_view section,
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
                            "write numeric ids: " + std::string(key) + " = [1000, 1001]",
                            r->origin);
                    ok = false;
                }
            }
        } else {
            problem(section, key, "must be an array of integers",
                    "write " + std::string(key) + " = [1000, 1001]", r->origin);
            ok = false;
        }
        if (!ok) {
            return std::nullopt;
        }
        return ids;
    }

    std::string origin(std::string_view section, std::string_view key) const {
        const auto r = find(section, key);
        return r ? r->origin : std::string{};
    }

  private:
    std::optional<std::int64_t> parse_integer(std::string_view section, std::string_view key,
                                              std::string_view t, const std::string& where) {
        std::int64_t v = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (t.empty() || ec != std::errc{} || end != t.data() + t.size()) {
            problem(section, key, "'" + std::string(t) + "' is not an integer",
                    "write a whole number", where);
            return std::nullopt;
        }
        return v;
    }

    const toml::table& file_;
    std::string_view source_;
    const environment& env_;
    std::vector<config_problem>& problems_;
};

/// A key as it would be written in the file: bare when it can be, else quoted (`""` for the
/// empty key, which TOML allows and a problem report must still name).
std::string written_key(std::string_view key) {
    const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? std::string(key) : "\"" + std::string(key) + "\"";
}

void report_unknown_keys(const toml::table& file, std::string_view source,
                         std::vector<config_problem>& problems) {
    for (const auto& [section_key, section_node] : file) {
        const std::string_view section = section_key.str();
        const auto where = location(source, section_node.source().begin.line);
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
                     "unknown key (" + location(source, node.source().begin.line) + ")",
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
        if (!known) {
            problems.push_back({name, "unknown environment variable",
                                name.find("SECRET") != std::string::npos
                                    ? "the client secret comes from PRIAVA_CLIENT_SECRET, "
                                      "a secret file or LoadCredential="
                                    : "unset it; variables are PRIAVA_TOKEND_<SECTION>_<KEY> "
                                      "for the keys of the config file"});
        }
    }
}

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

void read_priava(config_reader& in, config::priava_section& out) {
    if (auto url = in.text("priava", "token_url")) {
        if (auto ep = parse_token_url(*url); !ep) {
            in.problem("priava", "token_url", ep.error().message,
                       "e.g. https://api.priava.com/api/rest/oauth/token",
                       in.origin("priava", "token_url"));
        } else {
            out.token_url = std::move(*url);
        }
    } else if (!in.find("priava", "token_url")) {
        in.problem("priava", "token_url", "is required",
                   "set token_url = \"https://api.priava.com/api/rest/oauth/token\" "
                   "(sandbox: https://api-sandbox.priava.com/api/rest/oauth/token)");
    }
    if (auto r = pick(in, "priava", "region", all_regions)) {
        out.region = *r;
    } else if (!in.find("priava", "region")) {
        in.problem("priava", "region", "is required",
                   "set region = \"APAC\", \"EU\" or \"US\" (your Priava tenant's region)");
    }
    const auto required_text = [&](std::string_view key, std::string& into, std::string fix) {
        if (auto v = in.text("priava", key)) {
            into = std::move(*v);
        } else if (!in.find("priava", key)) {
            in.problem("priava", key, "is required", std::move(fix));
        }
    };
    required_text("client_id", out.client_id,
                  "copy the Client ID from Priava: Admin > API Access > Access Token");
    required_text("redirect_uri", out.redirect_uri,
                  "copy the Redirect URI registered in Priava: Admin > API Access > Access Token");
    out.client_secret_file = in.text("priava", "client_secret_file");
    out.ca_file = in.text("priava", "ca_file");
}

void read_refresh(config_reader& in, config::refresh_section& out) {
    if (auto f = in.number("refresh", "at_lifetime_fraction")) {
        if (*f > 0 && *f < 1) {
            out.at_lifetime_fraction = *f;
        } else {
            in.problem("refresh", "at_lifetime_fraction", "must be between 0 and 1 (exclusive)",
                       "use e.g. 0.75", in.origin("refresh", "at_lifetime_fraction"));
        }
    }
    if (auto f = in.number("refresh", "jitter_fraction")) {
        if (*f >= 0 && *f < 1) {
            out.jitter_fraction = *f;
        } else {
            in.problem("refresh", "jitter_fraction", "must be at least 0 and below 1",
                       "use e.g. 0.05", in.origin("refresh", "jitter_fraction"));
        }
    }
    if (out.jitter_fraction >= out.at_lifetime_fraction) {
        in.problem("refresh", "jitter_fraction", "must be smaller than at_lifetime_fraction",
                   "lower jitter_fraction (e.g. 0.05)");
    }
    if (auto d = in.duration("refresh", "min_backoff", false)) {
        out.min_backoff = *d;
    }
    if (auto d = in.duration("refresh", "max_backoff", false)) {
        out.max_backoff = *d;
    }
    if (out.max_backoff < out.min_backoff) {
        in.problem("refresh", "max_backoff", "is smaller than min_backoff",
                   "make max_backoff at least " + format_duration(out.min_backoff));
    }
    if (auto d = in.duration("refresh", "request_timeout", false)) {
        if (*d > milliseconds{600'000}) {
            in.problem("refresh", "request_timeout", "is longer than 10m", "use e.g. \"30s\"",
                       in.origin("refresh", "request_timeout"));
        } else {
            out.request_timeout = *d;
        }
    }
    if (auto d = in.duration("refresh", "serve_margin", true)) {
        out.serve_margin = *d;
    }
    if (auto d = in.duration("refresh", "ready_timeout", false)) {
        if (*d > milliseconds{3'600'000}) {
            in.problem("refresh", "ready_timeout", "is longer than 1h",
                       "use e.g. \"60s\", and keep the unit's TimeoutStartSec= above it",
                       in.origin("refresh", "ready_timeout"));
        } else {
            out.ready_timeout = *d;
        }
    }
}

void read_listen(config_reader& in, config::listen_section& out) {
    if (auto s = in.text("listen", "socket")) {
        out.socket = std::move(*s);
    }
    if (auto m = in.string("listen", "mode")) {
        const std::string_view t = trim(*m);
        unsigned v = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v, 8);
        if (t.size() < 3 || t.size() > 4 || ec != std::errc{} || end != t.data() + t.size() ||
            v > 0777) {
            in.problem("listen", "mode", "'" + *m + "' is not an octal file mode",
                       "write it as a string such as \"0660\"", in.origin("listen", "mode"));
        } else if ((v & 0600) != 0600) {
            in.problem("listen", "mode", "must let the owner read and write the socket",
                       "use e.g. \"0660\"", in.origin("listen", "mode"));
        } else {
            out.mode = static_cast<mode_t>(v);
        }
    }
    if (auto g = in.text("listen", "group")) {
        gid_t gid = 0;
        const auto [end, ec] = std::from_chars(g->data(), g->data() + g->size(), gid);
        if (ec == std::errc{} && end == g->data() + g->size()) {
            out.group = gid;
        } else if (const ::group* entry = ::getgrnam(g->c_str())) {
            out.group = entry->gr_gid;
        } else {
            in.problem("listen", "group", "group '" + *g + "' does not exist",
                       "create it (groupadd " + *g + ") or name an existing group",
                       in.origin("listen", "group"));
        }
    }
    if (auto ids = in.id_list("listen", "allow_uids")) {
        out.allow_uids.assign(ids->begin(), ids->end());
    }
    if (auto ids = in.id_list("listen", "allow_gids")) {
        out.allow_gids.assign(ids->begin(), ids->end());
    }
    if (auto n = in.integer("listen", "max_connections")) {
        if (*n < 1 || *n > 65536) {
            in.problem("listen", "max_connections", "must be between 1 and 65536", "use e.g. 1024",
                       in.origin("listen", "max_connections"));
        } else {
            out.max_connections = static_cast<std::size_t>(*n);
        }
    }
}

} // namespace

config_location locate_config(const std::optional<std::string>& flag, const environment& env) {
    if (flag) {
        return {*flag, true};
    }
    if (auto path = env.get("PRIAVA_TOKEND_CONFIG"); path && !path->empty()) {
        return {*path, true};
    }
    return {default_config_path, false};
}

loaded_config parse_config(std::string_view toml_text, std::string_view source,
                           const environment& env) {
    loaded_config result;
    auto& problems = result.problems;
    if (auto problem = check_toml_text(toml_text)) {
        problems.push_back(
            {"(file)",
             problem->description + " (" + location(source, problem->line, problem->column) + ")",
             "fix the TOML syntax there; non-ASCII text belongs only in a quoted "
             "one-line string or a comment"});
        return result;
    }
    toml::table file;
    try {
        file = toml::parse(toml_text, source);
    } catch (const toml::parse_error& e) {
        problems.push_back({"(file)",
                            std::string(e.description()) + " (" +
                                location(source, e.source().begin.line, e.source().begin.column) +
                                ")",
                            "fix the TOML syntax at that line"});
        return result;
    }
    report_unknown_keys(file, source, problems);
    report_unknown_variables(env, problems);

    config_reader in(file, source, env, problems);
    config& cfg = result.values;
    read_priava(in, cfg.priava);
    cfg.bootstrap.code_file = in.text("bootstrap", "code_file");
    read_refresh(in, cfg.refresh);
    if (auto p = in.text("state", "path")) {
        cfg.state.path = std::move(*p);
    }
    read_listen(in, cfg.listen);
    constexpr std::array<std::pair<std::string_view, log_format>, 2> formats{
        {{"text", log_format::text}, {"json", log_format::json}}};
    if (auto f = pick(in, "log", "format", formats)) {
        cfg.log.format = *f;
    }
    constexpr std::array<std::pair<std::string_view, log_level>, 4> levels{
        {{"debug", log_level::debug},
         {"info", log_level::info},
         {"warning", log_level::warning},
         {"error", log_level::error}}};
    if (auto l = pick(in, "log", "level", levels)) {
        cfg.log.level = *l;
    }
    return result;
}

loaded_config load_config(const config_location& where, const environment& env) {
    std::ifstream in(where.path, std::ios::binary);
    if (!in) {
        const int error = errno;
        if (where.chosen || error != ENOENT) {
            loaded_config result;
            result.problems.push_back({"(file)",
                                       "cannot read " + where.path + ": " + std::strerror(error),
                                       where.chosen ? "check the path given by --config or "
                                                      "PRIAVA_TOKEND_CONFIG"
                                                    : "make it readable by the daemon's user"});
            return result;
        }
        return parse_config("", "(environment)", env);
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), where.path, env);
}

} // namespace priava_tokend
