// priava-tokend: parses the command line and hands over to the command; nothing else lives here.
#include <priava_tokend/cli/bootstrap_command.hpp>
#include <priava_tokend/cli/check_config_command.hpp>
#include <priava_tokend/cli/client_commands.hpp>
#include <priava_tokend/cli/command_line.hpp>
#include <priava_tokend/cli/token_request_command.hpp>
#include <priava_tokend/core/exit_code.hpp>
#include <priava_tokend/core/process_privacy.hpp>
#include <priava_tokend/daemon/daemon.hpp>

#include <iostream>
#include <span>

namespace {

int run(int argc, char** argv) {
    using namespace priava_tokend;
    forbid_core_dumps();
    const auto parsed =
        parse_command_line(std::span<const char* const>(argv, static_cast<std::size_t>(argc)));
    if (!parsed.line) {
        (parsed.exit == 0 ? std::cout : std::cerr) << parsed.text;
        return parsed.exit;
    }
    const command_line& line = *parsed.line;
    const environment env = environment::from_process();
    // The snapshot keeps it (a reload reads it again); the process's environment, which
    // /proc/<pid>/environ shows, does not.
    wipe_environment_variable("PRIAVA_CLIENT_SECRET");
    switch (line.cmd) {
    case command::run:
        return run_daemon(locate_config(line.config, env), env);
    case command::bootstrap:
        return bootstrap_command(line, env, std::cin, std::cout, std::cerr);
    case command::token:
        return token_command(line, env, std::cout, std::cerr);
    case command::status:
        return status_command(line, env, std::cout, std::cerr);
    case command::healthcheck:
        return healthcheck_command(line, env, std::cerr);
    case command::api:
        return api_command(line, env, std::cin, std::cout, std::cerr);
    case command::check_config:
        return check_config_command(line, env, std::cout, std::cerr);
    case command::token_request:
        return token_request_command(std::cin, std::cout, std::cerr);
    }
    return to_int(exit_code::usage);
}

} // namespace

int main(int argc, char** argv) {
    // Exceptions are bugs here (outcomes travel as error codes): say so in one line, not as
    // std::terminate's abort.
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "priava-tokend: internal error: " << e.what() << '\n';
    }
    return priava_tokend::to_int(priava_tokend::exit_code::failed);
}
