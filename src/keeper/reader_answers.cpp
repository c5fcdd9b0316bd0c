#include <priava_tokend/keeper/reader_answers.hpp>

namespace priava_tokend {
namespace {

using std::chrono::seconds;

seconds at_least_one_second(steady_time::duration d) {
    return std::max(seconds{1}, std::chrono::ceil<seconds>(d));
}

bool ending(const keeper_fsm& k) {
    return k.phase() == keeper_phase::stopping || k.phase() == keeper_phase::stopped;
}

/// A request in flight at shutdown still settles; a reader waiting for it waits until then.
bool stopped(const keeper_fsm& k) {
    return k.phase() == keeper_phase::stopped;
}

bool dead(const keeper_fsm& k) {
    return k.phase() == keeper_phase::reauth_required;
}

std::string last_error_text(const keeper_fsm& k) {
    const auto& e = k.last_error();
    return e ? e->error + ": " + e->description : std::string("unknown error");
}

token_answer too_short(const keeper_fsm& k, seconds min_ttl) {
    token_answer a = current_answer(k, min_ttl);
    a.why = refusal::lifetime_too_short;
    a.detail = "Priava's tokens live " + std::to_string(k.held()->lifetime.count()) +
               " s, less than the asked min_ttl";
    return a;
}

/// The keeper's state as `/v1/status` and the metrics show it.
token_state public_state(const keeper_fsm& k) {
    switch (k.phase()) {
    case keeper_phase::starting:
        return token_state::starting;
    case keeper_phase::refreshing:
        return token_state::refreshing;
    case keeper_phase::retrying:
        return token_state::retrying;
    case keeper_phase::reauth_required:
        return token_state::reauth_required;
    case keeper_phase::valid:
    case keeper_phase::expired:
    case keeper_phase::stopping:
    case keeper_phase::stopped:
        break;
    }
    if (k.request_in_flight()) {
        return token_state::refreshing;
    }
    if (k.held() == nullptr) {
        return token_state::starting;
    }
    // Between the crossing of serve_margin and the timer that notes it, the clock decides.
    return k.usable_token() != nullptr ? token_state::valid : token_state::expired;
}

} // namespace

keeper_status status_of(const keeper_fsm& k) {
    keeper_status s;
    s.state = public_state(k);
    s.token = k.held();
    s.generation = s.token != nullptr ? s.token->generation : k.stored_generation();
    if (k.next_attempt() && k.attempt_planned()) {
        const auto wait = std::max(*k.next_attempt() - k.now(), steady_time::duration::zero());
        s.next_refresh_at = std::chrono::time_point_cast<wall_time::duration>(k.wall_now() + wait);
    }
    s.last_refresh_at = k.stats().last_success;
    s.last_error = k.last_error();
    s.consecutive_failures = k.consecutive_failures();
    s.persisted = k.store_state() != persistence::failed; // a write under way is not a failure
    s.persist_error = k.persist_error();
    return s;
}

token_answer current_answer(const keeper_fsm& k, seconds min_left) {
    if (const held_token* t = k.usable_token(min_left)) {
        return token_answer{t};
    }
    token_answer a;
    if (k.request_in_flight()) {
        a.retry_after = seconds{1};
    } else if (k.next_attempt() && !dead(k)) {
        a.retry_after = at_least_one_second(*k.next_attempt() - k.now());
    }
    if (dead(k) && k.usable_token() == nullptr) {
        return reauth_refusal(k);
    }
    if (k.held() == nullptr) {
        a.why = refusal::no_token;
        a.detail = "no token yet";
    } else if (k.usable_token() == nullptr) {
        a.why = refusal::expired;
        a.detail = "the held token is expired or within serve_margin of expiry; refreshing";
    } else {
        a.why = refusal::lifetime_too_short;
        a.detail = "the held token has less than the asked min_ttl left";
    }
    return a;
}

token_answer reauth_refusal(const keeper_fsm& k) {
    const auto& e = k.last_error();
    return token_answer{nullptr, refusal::reauth_required,
                        "Priava rejected the credential (" +
                            (e ? e->error : std::string("rejected")) +
                            "); a new authorization code is needed: run priava-tokend bootstrap",
                        seconds{60}};
}

std::optional<token_answer> min_ttl_answer_now(const keeper_fsm& k, seconds min_ttl) {
    if (const held_token* t = k.usable_token(min_ttl)) {
        return token_answer{t};
    }
    if (dead(k) || ending(k)) {
        return current_answer(k, min_ttl);
    }
    const held_token* t = k.held();
    if (t != nullptr && t->lifetime <= min_ttl && k.last_success() &&
        k.now() - *k.last_success() < forced_refresh_reuse_window) {
        return too_short(k, min_ttl); // another refresh would not help
    }
    return std::nullopt;
}

std::optional<token_answer> min_ttl_answer(const keeper_fsm& k, const keeper_fsm::ticket& t,
                                           seconds min_ttl, bool deadline_passed) {
    const bool settled = k.settled_requests() > t.settled_requests && !k.request_in_flight();
    const bool done = k.usable_token(min_ttl) != nullptr || dead(k) || settled || stopped(k);
    if (!done && !deadline_passed) {
        return std::nullopt;
    }
    token_answer a = current_answer(k, min_ttl);
    if (a.why != refusal::lifetime_too_short && a.why != refusal::expired &&
        a.why != refusal::no_token) {
        return a;
    }
    if (!done) {
        a.why = refusal::timed_out;
        a.detail = "no token with " + std::to_string(min_ttl.count()) +
                   " s left arrived within request_timeout";
    } else if (k.held() != nullptr && k.held()->lifetime <= min_ttl) {
        return too_short(k, min_ttl);
    } else {
        a.why = refusal::refresh_failed;
        a.detail = "the refresh failed: " + last_error_text(k);
    }
    return a;
}

std::optional<token_answer> forced_refresh_answer_now(const keeper_fsm& k) {
    const auto& last = k.last_success();
    if (last && k.now() - *last < forced_refresh_reuse_window && k.usable_token() != nullptr) {
        return token_answer{k.usable_token()};
    }
    if (dead(k)) {
        return reauth_refusal(k); // the caller's 401 and Priava agree: this credential is dead
    }
    return std::nullopt;
}

std::optional<token_answer> forced_refresh_answer(const keeper_fsm& k, const keeper_fsm::ticket& t,
                                                  bool deadline_passed) {
    const held_token* held = k.held();
    const bool newer = held != nullptr && held->generation > t.generation;
    const bool settled = k.settled_requests() > t.settled_requests && !k.request_in_flight();
    const bool done = newer || dead(k) || settled || stopped(k);
    if (!done && !deadline_passed) {
        return std::nullopt;
    }
    if (newer && k.usable_token() != nullptr) {
        return token_answer{k.usable_token()};
    }
    if (dead(k)) {
        return reauth_refusal(k);
    }
    token_answer a = current_answer(k); // for its Retry-After
    a.token = nullptr;
    a.why = done ? refusal::refresh_failed : refusal::timed_out;
    a.detail = done ? "the refresh failed: " + last_error_text(k)
                    : "the refresh did not finish within request_timeout";
    return a;
}

std::optional<token_answer> newer_than_answer(const keeper_fsm& k, std::uint64_t generation,
                                              bool deadline_passed) {
    const held_token* held = k.held();
    const bool newer = held != nullptr && held->generation > generation;
    if (!newer && !deadline_passed && !ending(k)) {
        return std::nullopt;
    }
    return current_answer(k);
}

} // namespace priava_tokend
