#pragma once

#include <priava_tokend/core/environment.hpp>

#include <string_view>

namespace priava_tokend {

enum class log_format { text, json };
enum class log_level { debug, info, warning, error };

std::string_view to_string(log_level l) noexcept;

/// One line per event on stderr (or another fd), as text or JSON. Under journald
/// (`JOURNAL_STREAM` names our stderr) lines start with `<N>` priorities and carry no timestamp,
/// which journald adds itself. Callers never pass a token, secret or code; text that came from
/// outside goes through `redact` first. Single-threaded like the rest of the daemon.
class logger {
  public:
    logger(log_format format, log_level level, bool journald, int fd = 2) noexcept
        : format_(format)
        , level_(level)
        , journald_(journald)
        , fd_(fd) {}

    /// True when stderr is the stream journald gave us (`JOURNAL_STREAM=dev:ino` matches fd 2).
    static bool stderr_is_journal(const environment& env);

    void reconfigure(log_format format, log_level level) noexcept {
        format_ = format;
        level_ = level;
    }
    bool enabled(log_level level) const noexcept { return level >= level_; }

    void log(log_level level, std::string_view message) const;
    void debug(std::string_view m) const { log(log_level::debug, m); }
    void info(std::string_view m) const { log(log_level::info, m); }
    void warning(std::string_view m) const { log(log_level::warning, m); }
    void error(std::string_view m) const { log(log_level::error, m); }

  private:
    log_format format_;
    log_level level_;
    bool journald_;
    int fd_;
};

} // namespace priava_tokend
