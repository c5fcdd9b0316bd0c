#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/core/notifier.hpp>
#include <priava_tokend/keeper/held_token.hpp>
#include <priava_tokend/keeper/refresh_policy.hpp>
#include <priava_tokend/keeper/refresh_stats.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/priava/oauth_client.hpp>
#include <priava_tokend/priava/token_request.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <random>

namespace priava_tokend {

/// What the keeper needs from the configuration; replaced as a whole on reload.
struct keeper_settings {
    config::refresh_section refresh;
    std::string state_path;
    std::string fingerprint;
    std::optional<std::string> code_file;
    region tenant = region::apac;
    std::shared_ptr<const token_client> client;
    client_credentials credentials;
};

/// Owns the refresh token and the current access token: refreshes on schedule (one attempt at a
/// time, from one coroutine), persists every new refresh token before serving its access token,
/// backs off on transient failures, stops on rejections, and answers readers without ever making
/// them wait for a refresh they did not ask for. Single-threaded except for state-file writes,
/// which run on a private thread so a slow disk never stalls readers.
class token_keeper {
  public:
    token_keeper(net::any_io_executor ex, keeper_settings settings, const logger& log);
    ~token_keeper();

    /// Starts from a state file read at start-up.
    void adopt(stored_tokens tokens);
    /// Starts with no state: the first attempt exchanges this code (from `bootstrap.code_file`).
    void begin_with_code(secret code);

    /// The refresh loop. Returns once `stop()` was called and any attempt in flight finished and
    /// was persisted.
    net::awaitable<void> run();
    void stop();

    /// Applies new settings (SIGHUP); the token and the refresh token stay.
    void reconfigure(keeper_settings settings);

    /// Called after every change a supervisor may want to report (state, token, errors).
    void on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

    // --- readers -------------------------------------------------------------------------------

    /// The token if it has more than `serve_margin` and at least `min_left` left.
    const held_token* usable_token(std::chrono::seconds min_left = {}) const;
    /// True while the daemon has never held a token and is exchanging its first code: readers
    /// then wait for it rather than being turned away.
    bool first_token_pending() const noexcept { return !token_ && (pending_code_ || in_flight_); }

    /// The token if usable (with `min_left`), else why not; never waits.
    token_answer current(std::chrono::seconds min_left = {}) const;
    keeper_status status() const;
    const refresh_stats& stats() const noexcept { return stats_; }
    const keeper_settings& settings() const noexcept { return settings_; }

    /// A token with at least `min_ttl` left; starts (or joins) a refresh if the held one has
    /// less, waiting at most `request_timeout`.
    net::awaitable<token_answer> token_with_ttl(std::chrono::seconds min_ttl);
    /// Long poll: a token newer than `generation`, or the current one after `wait`.
    net::awaitable<token_answer> token_newer_than(std::uint64_t generation, milliseconds wait);
    /// The caller saw a 401: a new token, reusing one refreshed in the last 10 s.
    net::awaitable<token_answer> refreshed_token();
    /// Exchanges a new authorization code in place. Refused while a working credential is held,
    /// unless `force`.
    net::awaitable<token_answer> bootstrap(secret code, bool force);

  private:
    struct pending_code {
        secret code;
        bool from_socket = false;
        std::uint64_t id = 0;
    };
    struct bootstrap_result {
        std::uint64_t id = 0;
        token_answer answer;
    };

    net::awaitable<void> attempt();
    net::awaitable<void> persist();
    /// Moves the next refresh to now, unless one is in flight, backing off, or impossible.
    void request_attempt_now();
    /// Waits for `done()` to hold, a change at a time, until `deadline`; false at the deadline.
    net::awaitable<bool> wait_for(std::function<bool()> done,
                                  std::chrono::steady_clock::time_point deadline);
    void schedule_refresh(std::chrono::steady_clock::time_point received);
    void pick_up_code_file();
    void changed();
    std::chrono::steady_clock::time_point next_wake() const;
    token_state derive_state() const;
    token_answer reauth_refusal() const;
    double draw();

    net::any_io_executor ex_;
    keeper_settings settings_;
    refresh_policy policy_;
    const logger& log_;
    net::steady_timer wake_;
    notifier readers_;
    net::thread_pool writer_{1};
    std::mt19937_64 rng_{std::random_device{}()};

    std::optional<held_token> token_;
    secret refresh_token_;
    stored_tokens latest_; ///< what the state file should hold
    std::optional<pending_code> pending_code_;
    std::optional<bootstrap_result> bootstrap_result_;
    std::uint64_t next_bootstrap_id_ = 1;
    std::string code_digest_; ///< of the last code exchanged (or refused)

    bool stopping_ = false;
    bool in_flight_ = false;
    bool reauth_required_ = false;
    bool dirty_ = false; ///< latest_ not yet on disk
    bool expired_reported_ = false;
    unsigned consecutive_failures_ = 0;
    unsigned persist_failures_ = 0;
    std::uint64_t attempts_ = 0; ///< finished attempts, for waiters
    std::optional<std::chrono::steady_clock::time_point> next_attempt_;
    std::chrono::steady_clock::time_point persist_retry_at_{};
    std::optional<std::chrono::steady_clock::time_point> last_success_;
    std::optional<error_record> last_error_;
    std::optional<std::string> persist_error_;

    refresh_stats stats_;
    std::function<void()> on_change_;
};

} // namespace priava_tokend
