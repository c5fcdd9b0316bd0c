// The reader half of token_keeper: what the socket API asks of it. Readers only look at memory;
// the ones that need a newer token nudge the refresh loop and wait for it, each with a deadline.
#include <priava_tokend/keeper/token_keeper.hpp>

namespace priava_tokend {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::seconds;

seconds at_least_one_second(clock::duration d) {
    return std::max(seconds{1}, std::chrono::ceil<seconds>(d));
}

} // namespace

net::awaitable<bool> token_keeper::wait_for(std::function<bool()> done,
                                            clock::time_point deadline) {
    // Each co_await is a statement of its own: GCC 12 miscompiles co_await inside || and &&.
    while (!done()) {
        if (stopping_) {
            co_return done();
        }
        const bool woken = co_await readers_.wait_until(deadline);
        if (!woken) {
            co_return done();
        }
    }
    co_return true;
}

const held_token* token_keeper::usable_token(seconds min_left) const {
    if (!token_) {
        return nullptr;
    }
    const auto left = token_->expires - clock::now();
    if (left <= settings_.refresh.serve_margin || left < min_left) {
        return nullptr;
    }
    return &*token_;
}

token_state token_keeper::derive_state() const {
    if (reauth_required_) {
        return token_state::reauth_required;
    }
    if (in_flight_) {
        return token_state::refreshing;
    }
    if (consecutive_failures_ > 0) {
        return token_state::retrying;
    }
    if (!token_) {
        return token_state::starting;
    }
    return usable_token() != nullptr ? token_state::valid : token_state::expired;
}

keeper_status token_keeper::status() const {
    keeper_status s;
    s.state = derive_state();
    s.token = token_ ? &*token_ : nullptr;
    s.generation = token_ ? token_->generation : latest_.generation;
    const bool can_attempt = pending_code_ || (!reauth_required_ && !refresh_token_.empty());
    if (next_attempt_ && can_attempt) {
        const auto wait = std::max(*next_attempt_ - clock::now(), clock::duration::zero());
        s.next_refresh_at = std::chrono::time_point_cast<wall_time::duration>(
            std::chrono::system_clock::now() + wait);
    }
    s.last_refresh_at = stats_.last_success;
    s.last_error = last_error_;
    s.consecutive_failures = consecutive_failures_;
    s.persisted = !dirty_;
    s.persist_error = persist_error_;
    return s;
}

token_answer token_keeper::current(seconds min_left) const {
    if (const held_token* t = usable_token(min_left)) {
        return token_answer{t};
    }
    token_answer a;
    const auto now = clock::now();
    if (in_flight_) {
        a.retry_after = seconds{1};
    } else if (next_attempt_ && !reauth_required_) {
        a.retry_after = at_least_one_second(*next_attempt_ - now);
    }
    if (reauth_required_ && usable_token() == nullptr) {
        a = reauth_refusal();
    } else if (!token_) {
        a.why = refusal::no_token;
        a.detail = "no token yet";
    } else if (usable_token() == nullptr) {
        a.why = refusal::expired;
        a.detail = "the held token is expired or within serve_margin of expiry; refreshing";
    } else {
        a.why = refusal::lifetime_too_short;
        a.detail = "the held token has less than the asked min_ttl left";
    }
    return a;
}

token_answer token_keeper::reauth_refusal() const {
    return token_answer{nullptr, refusal::reauth_required,
                        "Priava rejected the credential (" +
                            (last_error_ ? last_error_->error : std::string("rejected")) +
                            "); a new authorization code is needed: run priava-tokend bootstrap",
                        seconds{60}};
}

void token_keeper::request_attempt_now() {
    if (in_flight_ || consecutive_failures_ > 0 || reauth_required_ || pending_code_ ||
        refresh_token_.empty()) {
        return;
    }
    next_attempt_ = clock::now();
    wake_.cancel();
}

net::awaitable<token_answer> token_keeper::token_with_ttl(seconds min_ttl) {
    if (const held_token* t = usable_token(min_ttl)) {
        co_return token_answer{t};
    }
    if (reauth_required_) {
        co_return current(min_ttl);
    }
    if (token_ && token_->lifetime <= min_ttl && last_success_ &&
        clock::now() - *last_success_ < forced_refresh_reuse_window) {
        // A token just refreshed does not live that long; another refresh would not help.
        token_answer a = current(min_ttl);
        a.why = refusal::lifetime_too_short;
        a.detail = "Priava's tokens live " + std::to_string(token_->lifetime.count()) +
                   " s, less than the asked min_ttl";
        co_return a;
    }
    const auto started = attempts_;
    request_attempt_now();
    const auto done = [&] {
        return usable_token(min_ttl) != nullptr || reauth_required_ ||
               (attempts_ > started && !in_flight_);
    };
    const bool satisfied =
        co_await wait_for(done, clock::now() + settings_.refresh.request_timeout);
    token_answer a = current(min_ttl);
    if (a.why == refusal::lifetime_too_short || a.why == refusal::expired ||
        a.why == refusal::no_token) {
        if (!satisfied) {
            a.why = refusal::timed_out;
            a.detail = "no token with " + std::to_string(min_ttl.count()) +
                       " s left arrived within request_timeout";
        } else if (token_ && token_->lifetime <= min_ttl) {
            a.why = refusal::lifetime_too_short;
            a.detail = "Priava's tokens live " + std::to_string(token_->lifetime.count()) +
                       " s, less than the asked min_ttl";
        } else {
            a.why = refusal::refresh_failed;
            a.detail = "the refresh failed: " +
                       (last_error_ ? last_error_->error + ": " + last_error_->description
                                    : std::string("unknown error"));
        }
    }
    co_return a;
}

net::awaitable<token_answer> token_keeper::token_newer_than(std::uint64_t generation,
                                                            milliseconds wait) {
    const auto newer = [&] {
        return token_ && token_->generation > generation;
    };
    co_await wait_for(newer, clock::now() + wait);
    co_return current(seconds{0});
}

net::awaitable<token_answer> token_keeper::refreshed_token() {
    const auto now = clock::now();
    if (last_success_ && now - *last_success_ < forced_refresh_reuse_window && usable_token()) {
        co_return token_answer{usable_token()};
    }
    if (reauth_required_) {
        co_return reauth_refusal(); // the caller's 401 and Priava agree: this credential is dead
    }
    const auto generation = token_ ? token_->generation : 0;
    const auto started = attempts_;
    request_attempt_now();
    const auto done = [&] {
        return (token_ && token_->generation > generation) || reauth_required_ ||
               (attempts_ > started && !in_flight_);
    };
    const bool finished = co_await wait_for(done, now + settings_.refresh.request_timeout);
    if (token_ && token_->generation > generation && usable_token() != nullptr) {
        co_return token_answer{usable_token()};
    }
    if (reauth_required_) {
        co_return reauth_refusal();
    }
    token_answer a = current(seconds{0}); // for its Retry-After
    a.token = nullptr;
    a.why = finished ? refusal::refresh_failed : refusal::timed_out;
    a.detail = finished ? "the refresh failed: " +
                              (last_error_ ? last_error_->error + ": " + last_error_->description
                                           : std::string("unknown error"))
                        : "the refresh did not finish within request_timeout";
    co_return a;
}

net::awaitable<token_answer> token_keeper::bootstrap(secret code, bool force) {
    if (pending_code_ && pending_code_->from_socket) {
        co_return token_answer{nullptr, refusal::conflict, "a bootstrap is already in progress",
                               seconds{5}};
    }
    if (token_ && !reauth_required_ && !refresh_token_.empty() && !force) {
        co_return token_answer{nullptr, refusal::conflict,
                               "the daemon holds a working credential (generation " +
                                   std::to_string(token_->generation) +
                                   "); use --force to replace it",
                               seconds{0}};
    }
    const std::uint64_t id = next_bootstrap_id_++;
    pending_code_ = pending_code{std::move(code), true, id};
    wake_.cancel();
    const auto answered = [&] {
        return bootstrap_result_ && bootstrap_result_->id == id;
    };
    const bool done = co_await wait_for(
        answered, clock::now() + 2 * settings_.refresh.request_timeout + seconds{5});
    if (!done) {
        co_return token_answer{nullptr, refusal::timed_out,
                               "the code exchange is still in progress; see priava-tokend status",
                               seconds{5}};
    }
    token_answer a = std::move(bootstrap_result_->answer);
    bootstrap_result_.reset();
    if (a.why == refusal::none) {
        a.token = token_ ? &*token_ : nullptr;
    }
    co_return a;
}

} // namespace priava_tokend
