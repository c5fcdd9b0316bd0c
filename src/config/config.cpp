#include "cluster_section_reader.hpp"
#include "config_reader.hpp"
#include "known_keys.hpp"
#include "proxy_section_reader.hpp"

#include <priava_tokend/config/config.hpp>
#include <priava_tokend/config/toml_text_check.hpp>
#include <priava_tokend/core/errno_text.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/core/trim.hpp>
#include <priava_tokend/priava/token_endpoint.hpp>

#include <toml++/toml.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>

#include <grp.h>

namespace priava_tokend {
namespace {

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
    constexpr milliseconds hour{3'600'000};
    constexpr milliseconds least{1};
    if (auto d = in.duration("refresh", "min_backoff", least, hour)) {
        out.min_backoff = *d;
    }
    if (auto d = in.duration("refresh", "max_backoff", least, 24 * hour)) {
        out.max_backoff = *d;
    }
    if (out.max_backoff < out.min_backoff) {
        in.problem("refresh", "max_backoff", "is smaller than min_backoff",
                   "make max_backoff at least " + format_duration(out.min_backoff));
    }
    if (auto d = in.duration("refresh", "request_timeout", least, milliseconds{600'000})) {
        out.request_timeout = *d;
    }
    // Priava's tokens live 6 hours: a larger margin would never serve one.
    if (auto d = in.duration("refresh", "serve_margin", milliseconds{0}, 6 * hour)) {
        out.serve_margin = *d;
    }
    // Keep the unit's TimeoutStartSec= above it.
    if (auto d = in.duration("refresh", "ready_timeout", least, hour)) {
        out.ready_timeout = *d;
    }
}

void read_listen(config_reader& in, config::listen_section& out) {
    if (auto s = in.text("listen", "socket")) {
        out.socket = std::move(*s);
    }
    if (auto m = in.string("listen", "mode")) {
        const std::string_view t = trim(*m);
        const auto parsed = parse_number<unsigned>(t, 8);
        const unsigned v = parsed.value_or(0);
        if (t.size() < 3 || t.size() > 4 || !parsed || v > 0777) {
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
        if (const auto gid = parse_number<gid_t>(*g)) {
            out.group = *gid;
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
    read_count(in, "listen", "max_connections", 1, 65536, out.max_connections);
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
        problems.push_back({"(file)",
                            problem->description + " (" +
                                file_location(source, problem->line, problem->column) + ")",
                            "fix the TOML syntax there; non-ASCII text belongs only in a quoted "
                            "one-line string or a comment"});
        return result;
    }
    toml::table file;
    try {
        file = toml::parse(toml_text, source);
    } catch (const toml::parse_error& e) {
        problems.push_back(
            {"(file)",
             std::string(e.description()) + " (" +
                 file_location(source, e.source().begin.line, e.source().begin.column) + ")",
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
    read_proxy(in, cfg.priava, cfg.proxy);
    read_cluster(in, cfg.cluster);
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
                                       "cannot read " + where.path + ": " + errno_text(error),
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
