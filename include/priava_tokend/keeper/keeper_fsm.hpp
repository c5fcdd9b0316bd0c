#pragma once

#include <priava_tokend/keeper/code_queue.hpp>
#include <priava_tokend/keeper/held_token.hpp>
#include <priava_tokend/keeper/keeper_action.hpp>
#include <priava_tokend/keeper/keeper_clock.hpp>
#include <priava_tokend/keeper/keeper_phase.hpp>
#include <priava_tokend/keeper/keeper_settings.hpp>
#include <priava_tokend/keeper/keeper_status.hpp>
#include <priava_tokend/keeper/random_source.hpp>
#include <priava_tokend/keeper/refresh_policy.hpp>
#include <priava_tokend/keeper/refresh_stats.hpp>
#include <priava_tokend/keeper/stored_tokens.hpp>
#include <priava_tokend/keeper/token_answer.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace priava_tokend {

/// The token keeper's logic, without I/O: it owns the refresh token and the held access token,
/// decides when to ask Priava, what every answer means, when the state must be written, and what
/// each reader gets. Events come in as calls; what to do comes back as `keeper_actions` for the
/// shell (`token_keeper`) to carry out. The clock and the random draws are injected, so tests
/// step it through every transition without waiting.
///
/// Rules it keeps: one token request at a time; a new refresh token is written before its access
/// token is served (a failed write still serves it, and is retried); transient failures back off
/// with full jitter; a rejection stops all requests until a new code arrives.
class keeper_fsm {
  public:
    /// `store_name` names the store in log lines ("state file /var/lib/priava-tokend/...").
    keeper_fsm(keeper_settings settings, std::string store_name, const keeper_clock& clock,
               random_source& random);

    // --- the start: one of these, once -------------------------------------------------------

    /// Starts from stored state: a still-usable access token is served at once.
    keeper_actions start_with_tokens(stored_tokens tokens);
    /// Starts with no state: the first request exchanges `code` (from `bootstrap.code_file`).
    keeper_actions start_with_code(secret code);

    // --- events ------------------------------------------------------------------------------

    keeper_actions timer_fired();
    keeper_actions token_response(token_outcome outcome);
    keeper_actions state_written();
    keeper_actions state_write_failed(std::string message);
    /// The answer to `read_code_file`.
    keeper_actions code_file_read(outcome<secret> code);
    /// New settings (SIGHUP); the token and the refresh token stay.
    keeper_actions reconfigure(keeper_settings settings);
    keeper_actions shutdown();

    // --- cluster mode (docs/cluster.md; keeper_fsm_cluster.cpp) -------------------------------

    /// Whether this keeper may send token requests: always outside cluster mode; in it, only on
    /// the leader, while it holds its lease and the shared state is not another node's.
    keeper_actions set_refresher(bool refresher);
    bool refresher() const noexcept { return refresher_; }
    /// Newer tokens committed by the cluster's leader: taken when `tokens.generation` is above
    /// the newest held and no request is in flight; older ones are never taken.
    keeper_actions shared_state(stored_tokens tokens);
    /// The cluster lost the chain (a refresh in flight on a node that died uncommitted): as a
    /// rejection, a person must make a new code.
    keeper_actions chain_lost(std::string why);

    // --- readers: their arrivals are events; their answers are in reader_answers.hpp -------

    /// What a waiting reader compares against: the requests settled and the generation held
    /// when it arrived (for a bootstrap: its number).
    struct ticket {
        std::uint64_t settled_requests = 0;
        std::uint64_t generation = 0;
    };
    /// A reader's first step: an answer now, or a ticket to wait with (after `actions`).
    struct arrival {
        std::optional<token_answer> answer;
        ticket waiting;
        keeper_actions actions;
    };

    /// `GET /v1/token?min_ttl=S` (and a plain `GET /v1/token` before the first token): starts a
    /// refresh when the held token has less than `min_ttl` left.
    arrival reader_with_min_ttl(std::chrono::seconds min_ttl);
    /// `POST /v1/token/refresh`: the caller saw a 401. Joins a refresh in flight, reuses one
    /// finished in the last 10 s, else starts one.
    arrival forced_refresh();
    /// `POST /v1/bootstrap`: a new code over the socket. The ticket's `generation` numbers the
    /// bootstrap; the code is sent as soon as no request is in flight.
    arrival bootstrap_code(secret code, bool force);
    /// The bootstrap's result, once; nothing while it is still pending (and the deadline has not
    /// passed).
    std::optional<token_answer> take_bootstrap_answer(const ticket& t, bool deadline_passed);

    // --- queries -----------------------------------------------------------------------------

    keeper_phase phase() const noexcept { return phase_; }
    persistence store_state() const noexcept { return persistence_; }
    /// The token if it has more than `serve_margin` and at least `min_left` left.
    const held_token* usable_token(std::chrono::seconds min_left = {}) const;
    /// The held token, usable or not.
    const held_token* held() const noexcept { return token_ ? &*token_ : nullptr; }
    /// True while no token was ever held and the first code exchange is under way: readers
    /// then wait for it rather than being turned away.
    bool first_token_pending() const noexcept;
    bool request_in_flight() const noexcept { return request_.has_value(); }
    std::uint64_t settled_requests() const noexcept { return settled_requests_; }
    std::optional<steady_time> next_attempt() const noexcept { return next_attempt_; }
    std::optional<steady_time> last_success() const noexcept { return last_success_; }
    const std::optional<error_record>& last_error() const noexcept { return last_error_; }
    steady_time now() const { return clock_.now(); }
    unsigned consecutive_failures() const noexcept { return consecutive_failures_; }
    const std::optional<std::string>& persist_error() const noexcept { return persist_error_; }
    /// The generation of the newest tokens, stored or about to be.
    std::uint64_t stored_generation() const noexcept { return latest_.generation; }
    /// True when a request goes out at `next_attempt()`: a refresh, or a code exchange.
    bool attempt_planned() const noexcept { return codes_.waiting() || can_refresh(); }
    wall_time wall_now() const { return clock_.wall_now(); }
    const refresh_stats& stats() const noexcept { return stats_; }
    const keeper_settings& settings() const noexcept { return settings_; }
    /// When `timer_fired` is next due; `steady_time::max()` when nothing is.
    steady_time next_wake() const;

  private:
    /// The token request in flight.
    struct request {
        grant_type grant = grant_type::refresh_token;
        std::optional<pending_code> code;             ///< for a code exchange
        keeper_phase resume = keeper_phase::starting; ///< where a failed bootstrap returns to
        steady_time sent;
    };
    /// A request whose outcome is settled once the write it caused finished: new tokens are
    /// served then (also after a failed write: from memory), and waiting readers answered.
    struct awaiting_write {
        std::optional<held_token> token;
        request origin;
        std::optional<token_answer> bootstrap_answer; ///< a socket code's failure, told then
    };
    /// The held token of stored (or shared) tokens: what is left of it by the wall clock.
    held_token held_from(const stored_tokens& tokens) const;
    bool busy() const noexcept;
    bool ending() const noexcept;
    bool can_refresh() const noexcept;
    bool needs_code() const noexcept;
    bool attempt_due(steady_time now) const noexcept;
    /// Starts whatever is due, notes the token's crossing of serve_margin, re-arms the timer.
    void advance(keeper_actions& out);
    void start_request(keeper_actions& out);
    void refresh_soon(keeper_actions& out);
    void write(keeper_actions& out);
    void schedule_refresh();
    void enter(keeper_phase p);
    /// The state is stored (by the store, or by the token request process before it answered).
    void written(keeper_actions& out);
    void settle_after_write(keeper_actions& out);
    void serve_new_token(held_token token, const request& origin, keeper_actions& out);
    void on_tokens(request r, token_set tokens, keeper_actions& out);
    void on_transient(request r, transient_failure failure, keeper_actions& out);
    void on_rejection(const request& r, const rejection& rej, keeper_actions& out);
    void retry_later(const request& r, const transient_failure& f, keeper_actions& out);
    void want_code_file(keeper_actions& out) const;
    void check_margin(keeper_actions& out);
    void finish_if_idle(keeper_actions& out);
    void log(keeper_actions& out, log_level level, std::string text) const;

    keeper_settings settings_;
    std::string store_name_;
    refresh_policy policy_;
    const keeper_clock& clock_;
    random_source& random_;

    keeper_phase phase_ = keeper_phase::starting;
    persistence persistence_ = persistence::clean;

    std::optional<held_token> token_;
    std::optional<awaiting_write> after_write_;
    secret refresh_token_;
    stored_tokens latest_;    ///< what the store should hold
    std::string code_digest_; ///< of the last code exchanged (or refused)
    code_queue codes_;
    std::optional<request> request_;

    std::optional<steady_time> next_attempt_;
    steady_time persist_retry_at_{};
    unsigned consecutive_failures_ = 0;
    unsigned persist_failures_ = 0;
    std::uint64_t settled_requests_ = 0; ///< requests whose outcome is fully dealt with
    bool spent_reported_ = false;        ///< the held token's crossing of serve_margin was logged
    std::optional<steady_time> last_success_;
    std::optional<error_record> last_error_;
    std::optional<std::string> persist_error_;
    refresh_stats stats_;
    bool refresher_ = true;
};

} // namespace priava_tokend
