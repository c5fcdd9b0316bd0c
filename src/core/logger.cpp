#include <priava_tokend/core/fd_io.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/core/timestamp.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {
namespace {

/// syslog(3) priorities, as sd-daemon(3) prefixes expect them.
int priority(log_level level) {
    switch (level) {
    case log_level::debug:
        return 7;
    case log_level::info:
        return 6;
    case log_level::warning:
        return 4;
    case log_level::error:
        return 3;
    }
    return 6;
}

} // namespace

std::string_view to_string(log_level l) noexcept {
    switch (l) {
    case log_level::debug:
        return "debug";
    case log_level::info:
        return "info";
    case log_level::warning:
        return "warning";
    case log_level::error:
        return "error";
    }
    return "info";
}

bool logger::stderr_is_journal(const environment& env) {
    const auto stream = env.get("JOURNAL_STREAM");
    if (!stream) {
        return false;
    }
    struct stat st {};
    if (::fstat(2, &st) != 0) {
        return false;
    }
    std::uintmax_t dev = 0;
    std::uintmax_t ino = 0;
    return std::sscanf(stream->c_str(), "%" SCNuMAX ":%" SCNuMAX, &dev, &ino) == 2 &&
           dev == st.st_dev && ino == st.st_ino;
}

void logger::log(log_level level, std::string_view message) const {
    if (!enabled(level)) {
        return;
    }
    std::string line;
    line.reserve(message.size() + 64);
    if (journald_) {
        // sd-daemon(3)'s "<N>" prefix: one digit, so no formatting (and no GCC 12 false
        // -Wstringop-overflow warning from a string concatenation here).
        line += '<';
        line += static_cast<char>('0' + priority(level));
        line += '>';
    }
    if (format_ == log_format::json) {
        boost::json::object o;
        o["ts"] = format_rfc3339(std::chrono::system_clock::now());
        o["level"] = to_string(level);
        o["msg"] = message;
        line += boost::json::serialize(o);
    } else if (journald_) {
        line += message;
    } else {
        line += format_rfc3339(std::chrono::system_clock::now());
        line += ' ';
        line += to_string(level);
        line += ' ';
        line += message;
    }
    line += '\n';
    (void)write_all(fd_, line); // stderr gone: nothing sensible left to do with a log line
}

} // namespace priava_tokend
