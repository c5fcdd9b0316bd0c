#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace priava_tokend {

/// `token_request` is internal: the daemon runs it to perform one token request.
enum class command { run, bootstrap, token, status, healthcheck, check_config, api, token_request };
enum class token_format { raw, json, header };

/// The command line of docs/command-line.md, parsed.
struct command_line {
    command cmd = command::run;
    std::optional<std::string> config;
    std::optional<std::string> socket;
    std::optional<std::string> code_file;
    bool code_from_stdin = false;
    bool force = false;
    std::optional<std::chrono::seconds> min_ttl;
    token_format format = token_format::raw;
    bool json = false;
    std::vector<std::string> operands; ///< `api`: METHOD and PATH
    std::optional<std::string> data;   ///< `api --data`: `@FILE` or `-`
};

/// What to do: run `line`, or print `text` (help, version, usage error) and exit with `exit`.
struct parsed_command_line {
    std::optional<command_line> line;
    std::string text;
    int exit = 0;
};

/// Parses `argv` (program name first). `--help` and `--version` work with every command;
/// errors come back as a usage message with exit status 64. An authorization code is never
/// accepted as an argument.
parsed_command_line parse_command_line(std::span<const char* const> args);

} // namespace priava_tokend
