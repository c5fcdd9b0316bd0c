#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/keeper/keeper_fsm.hpp>
#include <priava_tokend/keeper/reader_answers.hpp>
#include <priava_tokend/keeper/state_after.hpp>

#include <algorithm>

namespace priava_tokend {
namespace {

using std::chrono::seconds;

std::string in_about(steady_time::duration d) {
    return describe_seconds(std::chrono::ceil<seconds>(std::max(d, steady_time::duration::zero())));
}

} // namespace

keeper_fsm::keeper_fsm(keeper_settings settings, std::string store_name, const keeper_clock& clock,
                       random_source& random)
    : settings_(std::move(settings))
    , store_name_(std::move(store_name))
    , policy_(settings_.refresh)
    , clock_(clock)
    , random_(random) {}

// --- start -------------------------------------------------------------------------------------

held_token keeper_fsm::held_from(const stored_tokens& tokens) const {
    const auto lifetime =
        std::max(seconds{1}, std::chrono::floor<seconds>(tokens.expires_at - tokens.received_at));
    // The only place the wall clock decides anything: how much of a stored token is left.
    const auto left =
        std::min<steady_time::duration>(tokens.expires_at - clock_.wall_now(), lifetime);
    held_token held;
    held.access_token = tokens.access_token;
    held.expires = clock_.now() + left;
    held.received = held.expires - lifetime;
    held.expires_at = tokens.expires_at;
    held.lifetime = lifetime;
    held.generation = tokens.generation;
    return held;
}

keeper_actions keeper_fsm::start_with_tokens(stored_tokens tokens) {
    token_ = held_from(tokens);
    refresh_token_ = tokens.refresh_token;
    code_digest_ = tokens.bootstrap_code_sha256;
    latest_ = std::move(tokens);
    schedule_refresh();
    phase_ = keeper_phase::valid;
    keeper_actions out;
    advance(out);
    return out;
}

keeper_actions keeper_fsm::start_with_code(secret code) {
    codes_.offer(std::move(code), false);
    next_attempt_ = clock_.now();
    phase_ = keeper_phase::starting;
    keeper_actions out;
    advance(out);
    return out;
}

// --- the refresh cycle -------------------------------------------------------------------------

bool keeper_fsm::busy() const noexcept {
    return request_.has_value() || persistence_ == persistence::writing;
}

bool keeper_fsm::ending() const noexcept {
    return phase_ == keeper_phase::stopping || phase_ == keeper_phase::stopped;
}

bool keeper_fsm::can_refresh() const noexcept {
    return refresher_ && !refresh_token_.empty() && phase_ != keeper_phase::reauth_required &&
           !ending();
}

bool keeper_fsm::needs_code() const noexcept {
    return phase_ == keeper_phase::reauth_required || (!token_ && refresh_token_.empty());
}

bool keeper_fsm::attempt_due(steady_time now) const noexcept {
    if (ending()) {
        return false;
    }
    const bool planned_and_due = next_attempt_ && now >= *next_attempt_;
    if (codes_.waiting()) {
        return refresher_ && (codes_.socket_code_waiting() || planned_and_due);
    }
    return can_refresh() && planned_and_due;
}

void keeper_fsm::enter(keeper_phase p) {
    if (!ending()) {
        phase_ = p;
    }
}

steady_time keeper_fsm::next_wake() const {
    if (ending()) {
        return steady_time::max();
    }
    auto wake = steady_time::max();
    // While a request or a write is in flight, its completion is the next event.
    if (!busy() && next_attempt_ && ((refresher_ && codes_.waiting()) || can_refresh())) {
        wake = std::min(wake, *next_attempt_);
    }
    if (!busy() && persistence_ == persistence::failed) {
        wake = std::min(wake, persist_retry_at_);
    }
    if (token_ && !spent_reported_) {
        wake = std::min(wake, token_->expires - settings_.refresh.serve_margin);
    }
    return wake;
}

void keeper_fsm::advance(keeper_actions& out) {
    if (ending()) {
        finish_if_idle(out);
        return;
    }
    const auto now = clock_.now();
    if (!busy() && persistence_ == persistence::failed && now >= persist_retry_at_) {
        write(out);
    } else if (!busy() && attempt_due(now)) {
        start_request(out);
    }
    check_margin(out);
    out.emplace_back(keeper_do::arm_timer{next_wake()});
}

void keeper_fsm::start_request(keeper_actions& out) {
    request r;
    r.resume = phase_;
    r.sent = clock_.now();
    secret credential;
    std::string digest = code_digest_;
    if (codes_.waiting()) {
        r.grant = grant_type::authorization_code;
        r.code = codes_.take();
        credential = r.code->code;
        digest = sha256_hex(credential.reveal());
    } else {
        credential = refresh_token_;
    }
    out.emplace_back(
        keeper_do::request_token{r.grant, std::move(credential), latest_, std::move(digest)});
    request_ = std::move(r);
    phase_ = keeper_phase::refreshing;
    out.emplace_back(keeper_do::report_status{});
}

void keeper_fsm::refresh_soon(keeper_actions& out) {
    if (!refresher_) {
        out.emplace_back(keeper_do::ask_leader{latest_.generation});
        return;
    }
    const bool planned = phase_ == keeper_phase::valid || phase_ == keeper_phase::expired;
    if (planned && !codes_.waiting() && !refresh_token_.empty()) {
        next_attempt_ = clock_.now();
        advance(out);
    }
}

void keeper_fsm::schedule_refresh() {
    next_attempt_ = token_->received + policy_.refresh_delay(token_->lifetime, random_.uniform());
}

void keeper_fsm::write(keeper_actions& out) {
    persistence_ = persistence::writing;
    out.emplace_back(keeper_do::write_state{latest_});
}

void keeper_fsm::check_margin(keeper_actions& out) {
    if (!token_ || spent_reported_ || usable_token() != nullptr) {
        return;
    }
    spent_reported_ = true;
    if (phase_ == keeper_phase::valid) {
        phase_ = keeper_phase::expired;
    }
    log(out, log_level::warning,
        "the access token is within serve_margin of expiry; answering 503 until a new one "
        "arrives");
    out.emplace_back(keeper_do::wake_readers{});
    out.emplace_back(keeper_do::report_status{});
}

void keeper_fsm::finish_if_idle(keeper_actions& out) {
    if (phase_ != keeper_phase::stopping || busy()) {
        return;
    }
    phase_ = keeper_phase::stopped;
    out.emplace_back(keeper_do::wake_readers{});
    out.emplace_back(keeper_do::finish{});
}

void keeper_fsm::want_code_file(keeper_actions& out) const {
    if (refresher_ && settings_.code_file && !codes_.waiting() && needs_code()) {
        out.emplace_back(keeper_do::read_code_file{*settings_.code_file});
    }
}

void keeper_fsm::log(keeper_actions& out, log_level level, std::string text) const {
    out.emplace_back(keeper_do::log{level, std::move(text)});
}

// --- events ------------------------------------------------------------------------------------

keeper_actions keeper_fsm::timer_fired() {
    keeper_actions out;
    advance(out);
    return out;
}

keeper_actions keeper_fsm::token_response(token_outcome outcome) {
    keeper_actions out;
    if (!request_) {
        log(out, log_level::error, "a token response arrived with no request in flight; ignored");
        return out;
    }
    request r = std::move(*request_);
    request_.reset();
    stats_.observe_duration(clock_.now() - r.sent);
    if (auto* t = std::get_if<token_set>(&outcome)) {
        on_tokens(std::move(r), std::move(*t), out);
    } else if (auto* f = std::get_if<transient_failure>(&outcome)) {
        on_transient(std::move(r), std::move(*f), out);
    } else {
        on_rejection(r, std::get<rejection>(outcome), out);
    }
    out.emplace_back(keeper_do::wake_readers{});
    out.emplace_back(keeper_do::report_status{});
    advance(out);
    return out;
}

void keeper_fsm::on_tokens(request r, token_set t, keeper_actions& out) {
    ++stats_.success;
    const bool code_grant = r.grant == grant_type::authorization_code;
    if (!t.refresh_token && code_grant) {
        log(out, log_level::warning,
            "Priava answered the authorization code without a refresh token; the token cannot "
            "be renewed and a new code will be needed at expiry");
    }
    if (code_grant) {
        code_digest_ = sha256_hex(r.code->code.reveal());
    }
    // The receipt time the token request process stored (or would have): the held token counts
    // from it too, so that it and the state file agree.
    const auto wall = t.received_at.value_or(clock_.wall_now());
    const auto age =
        std::chrono::duration_cast<steady_time::duration>(std::clamp<wall_time::duration>(
            clock_.wall_now() - wall, wall_time::duration::zero(), t.expires_in));
    const auto received = clock_.now() - age;
    latest_ = state_after_tokens(latest_, t, wall, code_digest_);
    refresh_token_ = latest_.refresh_token;
    after_write_ =
        awaiting_write{held_token{std::move(t.access_token), received, received + t.expires_in,
                                  latest_.expires_at, t.expires_in, latest_.generation},
                       std::move(r), std::nullopt};
    // The refresh token is stored before its access token is served: by the token request
    // process already, or now.
    if (t.stored) {
        written(out);
    } else {
        write(out);
    }
}

void keeper_fsm::settle_after_write(keeper_actions& out) {
    awaiting_write w = std::move(*after_write_);
    after_write_.reset();
    if (w.token) {
        serve_new_token(std::move(*w.token), w.origin, out);
    } else if (w.bootstrap_answer) {
        codes_.answer(w.origin.code->id, std::move(*w.bootstrap_answer));
    }
    ++settled_requests_;
    out.emplace_back(keeper_do::wake_readers{});
}

void keeper_fsm::serve_new_token(held_token token, const request& origin, keeper_actions& out) {
    token_ = std::move(token);
    consecutive_failures_ = 0;
    spent_reported_ = false;
    last_success_ = token_->received;
    stats_.last_success = latest_.received_at;
    schedule_refresh();
    enter(keeper_phase::valid);
    const auto& code = origin.code;
    if (code && code->from_socket) {
        codes_.answer(code->id, token_answer{});
    }
    log(out, log_level::info,
        std::string(code ? "authorization code exchanged" : "token refreshed") + ": generation " +
            std::to_string(token_->generation) + ", expires " + format_rfc3339(token_->expires_at) +
            " (in " + describe_seconds(token_->lifetime) + "), next refresh in " +
            in_about(*next_attempt_ - token_->received));
}

void keeper_fsm::on_transient(request r, transient_failure f, keeper_actions& out) {
    ++stats_.transient_error;
    last_error_ = error_record{std::string(to_string(f.reason)), f.detail, clock_.wall_now()};
    const bool from_socket = r.code && r.code->from_socket;
    std::optional<token_answer> told;
    if (from_socket) {
        told = token_answer{nullptr, refusal::refresh_failed, f.detail};
        log(out, log_level::warning, "bootstrap through the socket failed: " + f.detail);
    }
    if (f.rotated_refresh_token) {
        // The old refresh token (or the code) is consumed: the new one must be kept and stored,
        // and used from now on.
        if (r.code) {
            code_digest_ = sha256_hex(r.code->code.reveal());
        }
        latest_ = state_after_rotation(latest_, *f.rotated_refresh_token, code_digest_);
        refresh_token_ = latest_.refresh_token;
        log(out, log_level::warning,
            "Priava's reply was malformed but carried a new refresh token; kept it");
        retry_later(r, f, out);
        after_write_ = awaiting_write{std::nullopt, std::move(r), std::move(told)};
        if (f.rotation_stored) {
            written(out);
        } else {
            write(out);
        }
        return;
    }
    ++settled_requests_;
    if (from_socket) {
        codes_.answer(r.code->id, std::move(*told));
        enter(r.resume); // nothing changed: back to where the keeper was
        return;
    }
    if (r.code) {
        codes_.put_back(std::move(*r.code)); // the code is not spent: send it again
    }
    retry_later(r, f, out);
}

void keeper_fsm::retry_later(const request& r, const transient_failure& f, keeper_actions& out) {
    ++consecutive_failures_;
    const auto delay = policy_.retry_delay(consecutive_failures_, random_.uniform(), f.retry_after,
                                           clock_.wall_now());
    next_attempt_ = clock_.now() + delay;
    enter(keeper_phase::retrying);
    log(out, log_level::warning,
        std::string(r.code ? "code exchange" : "token refresh") + " failed (" + f.detail +
            "); attempt " + std::to_string(consecutive_failures_ + 1) + " in " + in_about(delay) +
            (token_ ? "; the held token is served until " +
                          format_rfc3339(token_->expires_at - settings_.refresh.serve_margin)
                    : std::string{}));
}

void keeper_fsm::on_rejection(const request& r, const rejection& rej, keeper_actions& out) {
    ++stats_.rejected;
    ++settled_requests_;
    const secret* code = r.code ? &r.code->code : nullptr;
    const std::initializer_list<const secret*> secrets{&refresh_token_,
                                                       &settings_.credentials.client_secret, code};
    last_error_ = error_record{quote_outside_text(rej.error, secrets, 100),
                               quote_outside_text(rej.description, secrets), clock_.wall_now()};
    const std::string said = last_error_->error + ": " + last_error_->description;
    if (r.code && r.code->from_socket) {
        token_answer answer{nullptr, refusal::rejected, "Priava rejected the code (" + said + ")"};
        answer.priava_error = last_error_->error;
        codes_.answer(r.code->id, std::move(answer));
        enter(r.resume); // the credential held before stays as it was
        return;
    }
    if (code != nullptr) {
        code_digest_ = sha256_hex(code->reveal()); // never sent again
    }
    enter(keeper_phase::reauth_required);
    consecutive_failures_ = 0;
    next_attempt_.reset();
    log(out, log_level::error,
        std::string("Priava rejected the ") + (code ? "authorization code" : "refresh token") +
            " (" + said +
            "). A person must make a new code in Priava (Admin > API Access > Access Token) and "
            "run `priava-tokend bootstrap`" +
            (token_ ? "; the held token is served until it is spent" : std::string{}));
    want_code_file(out);
}

void keeper_fsm::written(keeper_actions& out) {
    persistence_ = persistence::clean;
    persist_failures_ = 0;
    ++stats_.state_writes;
    if (persist_error_) {
        log(out, log_level::info, store_name_ + " written again");
        persist_error_.reset();
    }
    if (after_write_) {
        settle_after_write(out);
    }
}

keeper_actions keeper_fsm::state_written() {
    keeper_actions out;
    written(out);
    out.emplace_back(keeper_do::report_status{});
    advance(out);
    return out;
}

keeper_actions keeper_fsm::state_write_failed(std::string message) {
    keeper_actions out;
    persistence_ = persistence::failed;
    ++persist_failures_;
    ++stats_.state_write_failures;
    const auto delay = policy_.backoff(persist_failures_, random_.uniform());
    persist_retry_at_ = clock_.now() + delay;
    log(out, log_level::error,
        message + "; the new refresh token is held in memory only, retrying in " + in_about(delay) +
            ". Do not stop the daemon until the state file is written");
    persist_error_ = std::move(message);
    if (after_write_) {
        settle_after_write(out); // new tokens are served from memory meanwhile
    }
    out.emplace_back(keeper_do::report_status{});
    advance(out);
    return out;
}

keeper_actions keeper_fsm::code_file_read(outcome<secret> code) {
    keeper_actions out;
    const std::string& path = settings_.code_file.value_or("bootstrap.code_file");
    if (!needs_code() || codes_.waiting() || ending()) {
        // Things moved on while the file was read.
    } else if (!code) {
        log(out, log_level::warning, "bootstrap.code_file: " + code.error().message);
    } else if (sha256_hex(code->reveal()) == code_digest_) {
        log(out, log_level::info,
            "bootstrap.code_file " + path +
                " still holds the code already used; waiting for a new one");
    } else {
        log(out, log_level::info, "exchanging the new authorization code from " + path);
        codes_.offer(std::move(*code), false);
        next_attempt_ = clock_.now();
    }
    advance(out);
    return out;
}

keeper_actions keeper_fsm::reconfigure(keeper_settings settings) {
    keeper_actions out;
    settings_ = std::move(settings);
    policy_ = refresh_policy(settings_.refresh);
    if (token_ && (phase_ == keeper_phase::valid || phase_ == keeper_phase::expired)) {
        schedule_refresh();
    }
    want_code_file(out);
    out.emplace_back(keeper_do::wake_readers{});
    out.emplace_back(keeper_do::report_status{});
    advance(out);
    return out;
}

keeper_actions keeper_fsm::shutdown() {
    keeper_actions out;
    if (ending()) {
        return out;
    }
    phase_ = keeper_phase::stopping;
    if (!busy() && persistence_ == persistence::failed) {
        write(out); // one more try before the process ends
    }
    out.emplace_back(keeper_do::wake_readers{});
    finish_if_idle(out);
    return out;
}

// --- readers -----------------------------------------------------------------------------------

keeper_fsm::arrival keeper_fsm::reader_with_min_ttl(std::chrono::seconds min_ttl) {
    arrival a;
    a.answer = min_ttl_answer_now(*this, min_ttl);
    if (!a.answer) {
        a.waiting = ticket{settled_requests_, token_ ? token_->generation : 0};
        refresh_soon(a.actions);
    }
    return a;
}

keeper_fsm::arrival keeper_fsm::forced_refresh() {
    arrival a;
    a.answer = forced_refresh_answer_now(*this);
    if (!a.answer) {
        a.waiting = ticket{settled_requests_, token_ ? token_->generation : 0};
        refresh_soon(a.actions);
    }
    return a;
}

keeper_fsm::arrival keeper_fsm::bootstrap_code(secret code, bool force) {
    arrival a;
    const bool socket_code_pending =
        codes_.socket_code_waiting() || (request_ && request_->code && request_->code->from_socket);
    if (ending()) {
        a.answer =
            token_answer{nullptr, refusal::timed_out, "the daemon is shutting down", seconds{5}};
    } else if (!refresher_) {
        a.answer = token_answer{nullptr, refusal::conflict,
                                "this node may not send token requests now: it does not lead the "
                                "cluster, or waits for another node's request to settle (see "
                                "priava-tokend status --json)",
                                seconds{5}};
    } else if (socket_code_pending) {
        a.answer = token_answer{nullptr, refusal::conflict, "a bootstrap is already in progress",
                                seconds{5}};
    } else if (token_ && phase_ != keeper_phase::reauth_required && !refresh_token_.empty() &&
               !force) {
        a.answer =
            token_answer{nullptr, refusal::conflict,
                         "the daemon holds a working credential (generation " +
                             std::to_string(token_->generation) + "); use --force to replace it",
                         seconds{0}};
    } else {
        a.waiting = ticket{settled_requests_, codes_.offer(std::move(code), true)};
        advance(a.actions);
    }
    return a;
}

std::optional<token_answer> keeper_fsm::take_bootstrap_answer(const ticket& t,
                                                              bool deadline_passed) {
    if (auto told = codes_.take_answer(t.generation)) {
        token_answer a = std::move(*told);
        if (a.why == refusal::none) {
            a.token = held();
        }
        return a;
    }
    if (ending()) {
        return token_answer{nullptr, refusal::timed_out, "the daemon is shutting down", seconds{5}};
    }
    if (deadline_passed) {
        return token_answer{nullptr, refusal::timed_out,
                            "the code exchange is still in progress; see priava-tokend status",
                            seconds{5}};
    }
    return std::nullopt;
}

// --- queries -----------------------------------------------------------------------------------

const held_token* keeper_fsm::usable_token(seconds min_left) const {
    if (!token_) {
        return nullptr;
    }
    const auto left = token_->expires - clock_.now();
    if (left <= settings_.refresh.serve_margin || left < min_left) {
        return nullptr;
    }
    return &*token_;
}

bool keeper_fsm::first_token_pending() const noexcept {
    return !token_ && (codes_.waiting() || request_ || (after_write_ && after_write_->token));
}

} // namespace priava_tokend
