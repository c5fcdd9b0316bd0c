#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/sha256.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/token_keeper.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace priava_tokend {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::seconds;

/// Runs on the writer thread. A plain coroutine with by-value parameters rather than a capturing
/// lambda: GCC 12 destroys lambda temporaries inside co_await expressions twice.
net::awaitable<outcome<void>> write_on_writer_thread(std::string path, secret text) {
    co_return write_state_file(path, text);
}

std::string in_about(clock::duration d) {
    return describe_seconds(std::chrono::ceil<seconds>(std::max(d, clock::duration::zero())));
}

} // namespace

token_keeper::token_keeper(net::any_io_executor ex, keeper_settings settings, const logger& log)
    : ex_(ex)
    , settings_(std::move(settings))
    , policy_(settings_.refresh)
    , log_(log)
    , wake_(ex) {}

token_keeper::~token_keeper() {
    writer_.join();
}

double token_keeper::draw() {
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
}

void token_keeper::changed() {
    if (on_change_) {
        on_change_();
    }
}

void token_keeper::adopt(stored_tokens tokens) {
    const auto now = clock::now();
    const auto lifetime =
        std::max(seconds{1}, std::chrono::floor<seconds>(tokens.expires_at - tokens.received_at));
    // The only place the wall clock decides anything: how much of a persisted token is left.
    const auto left =
        std::min<clock::duration>(tokens.expires_at - std::chrono::system_clock::now(), lifetime);
    held_token held;
    held.access_token = tokens.access_token;
    held.expires = now + left;
    held.received = held.expires - lifetime;
    held.expires_at = tokens.expires_at;
    held.lifetime = lifetime;
    held.generation = tokens.generation;
    token_ = std::move(held);
    refresh_token_ = tokens.refresh_token;
    code_digest_ = tokens.bootstrap_code_sha256;
    latest_ = std::move(tokens);
    schedule_refresh(token_->received);
}

void token_keeper::begin_with_code(secret code) {
    pending_code_ = pending_code{std::move(code), false, next_bootstrap_id_++};
    next_attempt_ = clock::now();
}

void token_keeper::schedule_refresh(clock::time_point received) {
    next_attempt_ = received + policy_.refresh_delay(token_->lifetime, draw());
}

void token_keeper::reconfigure(keeper_settings settings) {
    settings_ = std::move(settings);
    policy_ = refresh_policy(settings_.refresh);
    if (token_ && !in_flight_ && consecutive_failures_ == 0 && !reauth_required_) {
        schedule_refresh(token_->received);
    }
    pick_up_code_file();
    wake_.cancel();
    readers_.notify_all();
    changed();
}

void token_keeper::stop() {
    stopping_ = true;
    wake_.cancel();
    readers_.notify_all();
}

void token_keeper::pick_up_code_file() {
    const bool needs_code = reauth_required_ || (!token_ && refresh_token_.empty());
    if (!settings_.code_file || pending_code_ || !needs_code) {
        return;
    }
    auto code = read_secret_file(*settings_.code_file, "authorization code", false, environment{});
    if (!code) {
        log_.warning("bootstrap.code_file: " + code.error().message);
        return;
    }
    if (sha256_hex(code->reveal()) == code_digest_) {
        log_.info("bootstrap.code_file " + *settings_.code_file +
                  " still holds the code already used; waiting for a new one");
        return;
    }
    log_.info("exchanging the new authorization code from " + *settings_.code_file);
    begin_with_code(std::move(*code));
    wake_.cancel();
}

clock::time_point token_keeper::next_wake() const {
    auto wake = clock::time_point::max();
    const bool can_attempt = pending_code_ || (!reauth_required_ && !refresh_token_.empty());
    if (next_attempt_ && can_attempt) {
        wake = std::min(wake, *next_attempt_);
    }
    if (dirty_) {
        wake = std::min(wake, persist_retry_at_);
    }
    if (token_ && !expired_reported_) {
        wake = std::min(wake, token_->expires - settings_.refresh.serve_margin);
    }
    return wake;
}

net::awaitable<void> token_keeper::run() {
    while (!stopping_) {
        const auto now = clock::now();
        if (dirty_ && now >= persist_retry_at_) {
            co_await persist();
            continue;
        }
        const bool due = next_attempt_ && now >= *next_attempt_;
        const bool code_due = pending_code_ && (pending_code_->from_socket || due);
        const bool refresh_due =
            !pending_code_ && !reauth_required_ && !refresh_token_.empty() && due;
        if (code_due || refresh_due) {
            co_await attempt();
            continue;
        }
        if (token_ && !expired_reported_ && usable_token() == nullptr) {
            expired_reported_ = true;
            log_.warning("the access token is within serve_margin of expiry; answering 503 until a "
                         "new one arrives");
            readers_.notify_all();
            changed();
        }
        wake_.expires_at(next_wake());
        co_await wake_.async_wait(use_nothrow);
    }
    if (dirty_) {
        co_await persist();
    }
}

net::awaitable<void> token_keeper::attempt() {
    const bool code_grant = pending_code_.has_value();
    const grant_type grant =
        code_grant ? grant_type::authorization_code : grant_type::refresh_token;
    const secret code = code_grant ? pending_code_->code : secret{};
    const std::uint64_t code_id = code_grant ? pending_code_->id : 0;
    const bool from_socket = code_grant && pending_code_->from_socket;
    const secret body =
        token_request_body(settings_.credentials, grant, code_grant ? code : refresh_token_);
    const auto client = settings_.client; // a reload during the request must not free it

    in_flight_ = true;
    changed();
    const auto sent = clock::now();
    token_outcome outcome = co_await client->request(body);
    const auto arrived = clock::now();
    const auto arrived_wall = std::chrono::system_clock::now();
    in_flight_ = false;
    ++attempts_;
    stats_.observe_duration(arrived - sent);
    const bool ours = code_grant && pending_code_ && pending_code_->id == code_id;
    const auto settle_bootstrap = [&](token_answer answer) {
        if (ours) {
            if (from_socket) {
                bootstrap_result_ = bootstrap_result{code_id, std::move(answer)};
            }
            pending_code_.reset();
        }
    };

    if (auto* t = std::get_if<token_set>(&outcome)) {
        ++stats_.success;
        if (t->refresh_token) {
            refresh_token_ = std::move(*t->refresh_token);
        } else if (code_grant) {
            log_.warning("Priava answered the authorization code without a refresh token; the "
                         "token cannot be renewed and a new code will be needed at expiry");
        }
        const std::uint64_t generation = latest_.generation + 1;
        if (code_grant) {
            code_digest_ = sha256_hex(code.reveal());
        }
        latest_ = stored_tokens{refresh_token_, t->access_token, arrived_wall + t->expires_in,
                                arrived_wall,   generation,      code_digest_};
        dirty_ = true;
        co_await persist(); // the refresh token is on disk before its access token is served
        token_ = held_token{std::move(t->access_token), arrived,       arrived + t->expires_in,
                            latest_.expires_at,         t->expires_in, generation};
        reauth_required_ = false;
        consecutive_failures_ = 0;
        expired_reported_ = false;
        last_success_ = arrived;
        stats_.last_success = arrived_wall;
        schedule_refresh(arrived);
        settle_bootstrap(token_answer{});
        log_.info(std::string(code_grant ? "authorization code exchanged" : "token refreshed") +
                  ": generation " + std::to_string(generation) + ", expires " +
                  format_rfc3339(latest_.expires_at) + " (in " + describe_seconds(t->expires_in) +
                  "), next refresh in " + in_about(*next_attempt_ - arrived));
    } else if (auto* f = std::get_if<transient_failure>(&outcome)) {
        ++stats_.transient_error;
        if (f->rotated_refresh_token) {
            refresh_token_ = std::move(*f->rotated_refresh_token);
            latest_.refresh_token = refresh_token_;
            if (code_grant) {
                code_digest_ = latest_.bootstrap_code_sha256 = sha256_hex(code.reveal());
                settle_bootstrap(token_answer{nullptr, refusal::refresh_failed, f->detail});
            }
            dirty_ = true;
            log_.warning("Priava's reply was malformed but carried a new refresh token; kept it");
            co_await persist();
        }
        last_error_ = error_record{std::string(to_string(f->reason)), f->detail, arrived_wall};
        if (ours && from_socket) {
            settle_bootstrap(token_answer{nullptr, refusal::refresh_failed, f->detail});
            log_.warning("bootstrap through the socket failed: " + f->detail);
        } else {
            ++consecutive_failures_;
            const auto delay =
                policy_.retry_delay(consecutive_failures_, draw(), f->retry_after, arrived_wall);
            next_attempt_ = arrived + delay;
            log_.warning(
                std::string(code_grant ? "code exchange" : "token refresh") + " failed (" +
                f->detail + "); attempt " + std::to_string(consecutive_failures_ + 1) + " in " +
                in_about(delay) +
                (token_ ? "; the held token is served until " +
                              format_rfc3339(token_->expires_at - settings_.refresh.serve_margin)
                        : std::string{}));
        }
    } else {
        const auto& r = std::get<rejection>(outcome);
        ++stats_.rejected;
        const std::initializer_list<const secret*> secrets{
            &refresh_token_, &settings_.credentials.client_secret, &code};
        last_error_ =
            error_record{redact(r.error, secrets), redact(r.description, secrets), arrived_wall};
        const std::string said = last_error_->error + ": " + last_error_->description;
        if (ours && from_socket) {
            token_answer answer{nullptr, refusal::rejected,
                                "Priava rejected the code (" + said + ")"};
            answer.priava_error = last_error_->error;
            settle_bootstrap(std::move(answer));
        } else {
            if (code_grant) {
                code_digest_ = sha256_hex(code.reveal());
                settle_bootstrap(token_answer{});
            }
            reauth_required_ = true;
            consecutive_failures_ = 0;
            next_attempt_.reset();
            log_.error(std::string("Priava rejected the ") +
                       (code_grant ? "authorization code" : "refresh token") + " (" + said +
                       "). A person must make a new code in Priava (Admin > API Access > Access "
                       "Token) and run `priava-tokend bootstrap`" +
                       (token_ ? "; the held token is served until it is spent" : std::string{}));
            pick_up_code_file();
        }
    }
    readers_.notify_all();
    changed();
}

net::awaitable<void> token_keeper::persist() {
    auto written = co_await net::co_spawn(
        writer_,
        write_on_writer_thread(settings_.state_path, encode_state(latest_, settings_.fingerprint)),
        net::use_awaitable);
    if (written) {
        dirty_ = false;
        persist_failures_ = 0;
        ++stats_.state_writes;
        if (persist_error_) {
            log_.info("state file " + settings_.state_path + " written again");
            persist_error_.reset();
            changed();
        }
        co_return;
    }
    ++persist_failures_;
    ++stats_.state_write_failures;
    persist_error_ = written.error().message;
    const auto delay = policy_.backoff(persist_failures_, draw());
    persist_retry_at_ = clock::now() + delay;
    log_.error(written.error().message +
               "; the new refresh token is held in memory only, retrying "
               "in " +
               in_about(delay) + ". Do not stop the daemon until the state file is written");
    changed();
}

} // namespace priava_tokend
