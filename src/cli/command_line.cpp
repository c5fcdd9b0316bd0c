#include <priava_tokend/cli/command_line.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/core/version.hpp>

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

namespace priava_tokend {
namespace {

struct command_info {
    std::string_view name;
    command cmd;
    std::string_view synopsis;
    std::string_view help;
};

constexpr std::array<command_info, 7> commands{{
    {"run", command::run, "run [--config PATH]",
     "Run the daemon in the foreground (systemd and Docker supervise it).\n"
     "  --config PATH   configuration file (default $PRIAVA_TOKEND_CONFIG or\n"
     "                  /etc/priava-tokend/priava-tokend.toml)\n"},
    {"bootstrap", command::bootstrap,
     "bootstrap [--config PATH] (--code-file PATH | --code -) [--force]",
     "Exchange an authorization code from Priava (Admin > API Access > Access Token) for the\n"
     "first tokens and write the state file. While a daemon runs, the code is handed to it.\n"
     "  --config PATH     configuration file\n"
     "  --code-file PATH  read the code from this file\n"
     "  --code -          read the code from standard input (never from the command line)\n"
     "  --force           replace an existing credential (only after the exchange succeeded)\n"},
    {"token", command::token,
     "token [--socket PATH] [--min-ttl SECONDS] [--format raw|json|header]",
     "Print the current access token from the running daemon.\n"
     "  --socket PATH     daemon socket (default $PRIAVA_TOKEND_SOCKET or\n"
     "                    /run/priava-tokend/token.sock)\n"
     "  --min-ttl S       the token must have at least S seconds left (refreshes if needed)\n"
     "  --format F        raw (the bare token, default), json, or header\n"
     "                    (`Authorization: Bearer ...`)\n"},
    {"status", command::status, "status [--socket PATH] [--json]",
     "Show the state of the running daemon.\n"
     "  --socket PATH     daemon socket\n"
     "  --json            print the daemon's JSON status\n"},
    {"healthcheck", command::healthcheck, "healthcheck [--socket PATH]",
     "Exit 0 if the daemon answers ready (holds a usable token), 1 otherwise.\n"
     "  --socket PATH     daemon socket\n"},
    {"api", command::api, "api [--socket PATH] METHOD PATH [--data @FILE|-]",
     "Send one call to Priava through the daemon's proxy ([proxy] enabled = true) and print\n"
     "the body of the answer. PATH is Priava's, below the upstream: events?from=2026-01-01.\n"
     "Exit 0 for a 2xx answer, 1 for another, 69 daemon unreachable or no token, 75 try\n"
     "later (timed out, budget exhausted), 77 the credential needs a new authorization code.\n"
     "  --socket PATH     daemon socket\n"
     "  --data @FILE      send the file as the body (as application/json)\n"
     "  --data -          send standard input as the body\n"},
    {"check-config", command::check_config, "check-config [--config PATH]",
     "Validate the configuration and the files it names; print each problem with its key and\n"
     "the fix.\n"
     "  --config PATH     configuration file\n"},
}};

std::string general_usage() {
    std::string text = "usage: priava-tokend <command> [options]\n\ncommands:\n";
    for (const auto& c : commands) {
        text += "  priava-tokend ";
        text += c.synopsis;
        text += '\n';
    }
    text += "\n  --help, --version work with every command.\n"
            "exit status: 0 ok, 1 failed, 64 usage, 69 daemon unreachable or no token,\n"
            "75 temporary failure, 77 new authorization code needed, 78 configuration error\n";
    return text;
}

parsed_command_line usage_error(std::string message) {
    return {std::nullopt, "priava-tokend: " + message + "\n" + "Try 'priava-tokend --help'.\n",
            to_int(exit_code::usage)};
}

const command_info* find_command(const std::vector<std::string_view>& words) {
    for (const auto& c : commands) {
        if (!words.empty() && words.front() == c.name) {
            return &c;
        }
    }
    return nullptr;
}

/// --version and --help (anywhere), the internal command, or a missing or unknown command.
std::optional<parsed_command_line> without_options(const std::vector<std::string_view>& words,
                                                   const command_info* info) {
    const auto has = [&](std::initializer_list<std::string_view> any) {
        return std::any_of(words.begin(), words.end(), [&](std::string_view w) {
            return std::find(any.begin(), any.end(), w) != any.end();
        });
    };
    if (has({"--version", "-V"})) {
        return parsed_command_line{std::nullopt, "priava-tokend " + std::string(version()) + "\n",
                                   0};
    }
    if (has({"--help", "-h", "help"})) {
        return parsed_command_line{std::nullopt,
                                   info == nullptr
                                       ? general_usage()
                                       : "usage: priava-tokend " + std::string(info->synopsis) +
                                             "\n\n" + std::string(info->help),
                                   0};
    }
    if (words.size() == 1 && words.front() == "token-request") {
        command_line internal;
        internal.cmd = command::token_request;
        return parsed_command_line{internal, {}, 0};
    }
    if (words.empty()) {
        return usage_error("a command is required (run, bootstrap, token, status, healthcheck, "
                           "api, check-config)");
    }
    if (info == nullptr) {
        return usage_error("unknown command '" + std::string(words.front().substr(0, 40)) + "'");
    }
    return std::nullopt;
}

bool allowed(command cmd, std::string_view option) {
    switch (cmd) {
    case command::run:
    case command::check_config:
        return option == "--config";
    case command::bootstrap:
        return option == "--config" || option == "--code-file" || option == "--code" ||
               option == "--force";
    case command::token:
        return option == "--socket" || option == "--min-ttl" || option == "--format";
    case command::status:
        return option == "--socket" || option == "--json";
    case command::healthcheck:
        return option == "--socket";
    case command::api:
        return option == "--socket" || option == "--data";
    case command::token_request:
        return false;
    }
    return false;
}

/// Sets what `option` with `text` means; a usage message when the value is wrong.
std::optional<std::string> apply(command_line& line, std::string_view option, std::string text) {
    if (option == "--config") {
        line.config = std::move(text);
    } else if (option == "--socket") {
        line.socket = std::move(text);
    } else if (option == "--code-file") {
        line.code_file = std::move(text);
    } else if (option == "--code") {
        if (text != "-") {
            return "the code is never taken on the command line (it would show in ps and shell "
                   "history); use --code-file PATH or --code - to read it from standard input";
        }
        line.code_from_stdin = true;
    } else if (option == "--data") {
        if (text != "-" && (text.size() < 2 || text.front() != '@')) {
            return "--data takes @FILE or - (standard input)";
        }
        line.data = std::move(text);
    } else if (option == "--min-ttl") {
        const auto seconds = parse_number<unsigned>(text);
        if (!seconds || *seconds > 86400) {
            return "--min-ttl takes whole seconds from 0 to 86400";
        }
        line.min_ttl = std::chrono::seconds{*seconds};
    } else if (option == "--format") {
        constexpr std::array<std::pair<std::string_view, token_format>, 3> formats{
            {{"raw", token_format::raw},
             {"json", token_format::json},
             {"header", token_format::header}}};
        const auto* f = std::find_if(formats.begin(), formats.end(),
                                     [&](const auto& known) { return known.first == text; });
        if (f == formats.end()) {
            return "--format takes raw, json or header";
        }
        line.format = f->second;
    }
    return std::nullopt;
}

} // namespace

parsed_command_line parse_command_line(std::span<const char* const> args) {
    const std::vector<std::string_view> words(args.begin() + (args.empty() ? 0 : 1), args.end());
    const command_info* info = find_command(words);
    if (auto answer = without_options(words, info)) {
        return std::move(*answer);
    }
    command_line line;
    line.cmd = info->cmd;
    for (std::size_t i = 1; i < words.size(); ++i) {
        std::string_view option = words[i];
        std::optional<std::string_view> value;
        if (const auto eq = option.find('='); option.starts_with("--") && eq != option.npos) {
            value = option.substr(eq + 1);
            option = option.substr(0, eq);
        }
        if (line.cmd == command::api && !option.starts_with("--") && !value &&
            line.operands.size() < 2) {
            line.operands.emplace_back(option);
            continue;
        }
        if (!option.starts_with("--") || !allowed(line.cmd, option)) {
            return usage_error("'" + std::string(option.substr(0, 40)) + "' is not an option of " +
                               std::string(info->name));
        }
        if (option == "--force" || option == "--json") {
            if (value) {
                return usage_error(std::string(option) + " takes no value");
            }
            (option == "--force" ? line.force : line.json) = true;
            continue;
        }
        if (!value && i + 1 >= words.size()) {
            return usage_error(std::string(option) + " needs a value");
        }
        if (auto wrong = apply(line, option, std::string(value ? *value : words[++i]))) {
            return usage_error(*wrong);
        }
    }
    if (line.cmd == command::api && line.operands.size() != 2) {
        return usage_error("api needs METHOD and PATH, e.g. priava-tokend api GET events");
    }
    if (line.cmd == command::bootstrap && line.code_from_stdin == line.code_file.has_value()) {
        return usage_error("bootstrap needs exactly one of --code-file PATH and --code -");
    }
    return {std::move(line), {}, 0};
}

} // namespace priava_tokend
