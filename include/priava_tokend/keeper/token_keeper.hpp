#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/logger.hpp>
#include <priava_tokend/core/notifier.hpp>
#include <priava_tokend/keeper/keeper_fsm.hpp>
#include <priava_tokend/keeper/reader_answers.hpp>
#include <priava_tokend/keeper/token_store.hpp>

#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <optional>

namespace priava_tokend {

/// The asynchronous shell around `keeper_fsm`: it feeds the state machine its events (the timer,
/// Priava's answers, the store's writes, the code file, readers arriving) and carries out the
/// actions it returns: token requests through the settings' `token_client`, writes through the
/// `token_store`, file reads on the `blocking` executor, the timer, waking readers. It decides
/// nothing itself. Single-threaded: every call on the executor `ex`.
class token_keeper {
  public:
    token_keeper(net::any_io_executor ex, net::any_io_executor blocking, keeper_settings settings,
                 token_store& store, const logger& log);

    /// Starts from stored state, or with the first code (`bootstrap.code_file`); one of them,
    /// before `run`.
    void adopt(stored_tokens tokens);
    void begin_with_code(secret code);

    /// Runs until `stop()` was called and the request in flight and its write finished.
    net::awaitable<void> run();
    void stop();

    /// Applies new settings (SIGHUP); the token and the refresh token stay.
    void reconfigure(keeper_settings settings);

    // --- cluster mode (keeper_fsm's cluster events) -------------------------------------------

    void set_refresher(bool refresher) { apply(fsm_.set_refresher(refresher)); }
    bool refresher() const noexcept { return fsm_.refresher(); }
    void shared_state(stored_tokens tokens) { apply(fsm_.shared_state(std::move(tokens))); }
    void chain_lost(std::string why) { apply(fsm_.chain_lost(std::move(why))); }
    /// The generation of the newest tokens held or being written.
    std::uint64_t stored_generation() const noexcept { return fsm_.stored_generation(); }
    bool request_in_flight() const noexcept { return fsm_.request_in_flight(); }
    /// Called when a reader needs newer tokens than this node may fetch itself.
    void on_ask_leader(std::function<void(std::uint64_t generation)> callback) {
        on_ask_leader_ = std::move(callback);
    }
    /// Starts a refresh now, as for a caller that saw a 401 (the leader's answer to
    /// `on_ask_leader` on another node).
    void refresh_now() { apply(fsm_.forced_refresh().actions); }

    /// Called after every change a supervisor may want to report (state, token, errors).
    void on_change(std::function<void()> callback) { on_change_ = std::move(callback); }

    // --- readers -------------------------------------------------------------------------------

    const held_token* usable_token(std::chrono::seconds min_left = {}) const {
        return fsm_.usable_token(min_left);
    }
    bool first_token_pending() const noexcept { return fsm_.first_token_pending(); }
    /// The token if usable (with `min_left`), else why not; never waits.
    token_answer current(std::chrono::seconds min_left = {}) const;
    keeper_status status() const { return status_of(fsm_); }
    const refresh_stats& stats() const noexcept { return fsm_.stats(); }
    const keeper_settings& settings() const noexcept { return fsm_.settings(); }

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
    using answer_check = std::function<std::optional<token_answer>(bool deadline_passed)>;

    void apply(keeper_actions actions);
    void carry_out(keeper_do::request_token& request);
    void carry_out(keeper_do::write_state& write);
    void carry_out(const keeper_do::read_code_file& read);
    void carry_out(const keeper_do::arm_timer& arm);
    void carry_out(const keeper_do::wake_readers&) { readers_.notify_all(); }
    void carry_out(const keeper_do::ask_leader& ask) {
        if (on_ask_leader_) {
            on_ask_leader_(ask.generation);
        }
    }
    void carry_out(const keeper_do::report_status&);
    void carry_out(const keeper_do::log& line) { log_.log(line.level, line.text); }
    void carry_out(const keeper_do::finish&);
    /// Waits for `answer` to give one, a change at a time, until `deadline`.
    net::awaitable<token_answer> wait_for(const answer_check& answer, steady_time deadline);

    net::any_io_executor ex_;
    net::any_io_executor blocking_;
    token_store& store_;
    const logger& log_;
    system_keeper_clock clock_;
    system_random random_;
    keeper_fsm fsm_;
    net::steady_timer timer_;
    steady_time timer_at_ = steady_time::max();
    notifier readers_;
    bool finished_ = false;
    std::function<void()> on_change_;
    std::function<void(std::uint64_t)> on_ask_leader_;
};

} // namespace priava_tokend
