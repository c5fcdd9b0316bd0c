#pragma once

#include <priava_tokend/keeper/keeper_fsm.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace priava_tokend::testing {

using namespace std::chrono_literals;

/// A clock moved by hand: both clocks advance together.
class manual_clock final : public keeper_clock {
  public:
    steady_time now() const override { return now_; }
    wall_time wall_now() const override { return wall_; }
    void advance(std::chrono::milliseconds d) {
        now_ += d;
        wall_ += d;
    }

  private:
    steady_time now_ = steady_time{} + 1000h;
    wall_time wall_ =
        wall_time{} + std::chrono::sys_days{std::chrono::year{2026} / 12 / 1}.time_since_epoch();
};

/// The same draw every time: 0 means no jitter and the shortest backoff.
class fixed_random final : public random_source {
  public:
    double uniform() override { return value; }
    double value = 0.0;
};

template <class Action>
const Action* find(const keeper_actions& actions) {
    for (const auto& a : actions) {
        if (const auto* found = std::get_if<Action>(&a)) {
            return found;
        }
    }
    return nullptr;
}

template <class Action>
std::size_t count(const keeper_actions& actions) {
    std::size_t n = 0;
    for (const auto& a : actions) {
        n += std::holds_alternative<Action>(a) ? 1 : 0;
    }
    return n;
}

/// The time the last `arm_timer` asks for.
inline steady_time armed(const keeper_actions& actions) {
    steady_time at = steady_time::min();
    for (const auto& a : actions) {
        if (const auto* arm = std::get_if<keeper_do::arm_timer>(&a)) {
            at = arm->at;
        }
    }
    EXPECT_NE(at, steady_time::min()) << "no arm_timer among the actions";
    return at;
}

/// Every log line among the actions, one per line.
inline std::string logged(const keeper_actions& actions) {
    std::string text;
    for (const auto& a : actions) {
        if (const auto* line = std::get_if<keeper_do::log>(&a)) {
            text += line->text + "\n";
        }
    }
    return text;
}

/// A keeper state machine on a manual clock, with the `[refresh]` defaults but a 1 s to 60 s
/// backoff, and helpers that step it as the shell would.
class KeeperTest : public ::testing::Test {
  protected:
    static keeper_settings settings() {
        keeper_settings s;
        s.refresh.min_backoff = 1s;
        s.refresh.max_backoff = 60s;
        s.credentials.client_secret = secret{"client-secret-value"};
        return s;
    }

    stored_tokens stored(std::uint64_t generation = 1, std::chrono::seconds lifetime = 6h) const {
        stored_tokens t;
        t.refresh_token = secret{"refresh-" + std::to_string(generation)};
        t.access_token = secret{"access-" + std::to_string(generation)};
        t.received_at = clock.wall_now();
        t.expires_at = t.received_at + lifetime;
        t.generation = generation;
        return t;
    }

    static token_set tokens(std::string name, std::chrono::seconds lifetime = 6h,
                            bool with_refresh = true) {
        token_set t;
        t.access_token = secret{"access-" + name};
        if (with_refresh) {
            t.refresh_token = secret{"refresh-" + name};
        }
        t.expires_in = lifetime;
        return t;
    }

    static transient_failure transient(std::optional<wall_time> retry_after = std::nullopt) {
        return transient_failure{retry_after ? errc::rate_limited : errc::connect_failed,
                                 retry_after ? "HTTP 429 rate limited" : "connection refused",
                                 retry_after ? 429u : 0u, retry_after, std::nullopt};
    }

    static rejection rejected(std::string description = "the refresh token is invalid") {
        return rejection{400, "invalid_grant", std::move(description)};
    }

    /// The credential of the request among `actions`; fails the test without one.
    static std::string requested(const keeper_actions& actions) {
        const auto* r = find<keeper_do::request_token>(actions);
        EXPECT_NE(r, nullptr) << "no token request";
        return r ? std::string(r->credential.reveal()) : std::string{};
    }

    /// Started from a state file holding generation 1, six hours left.
    keeper_actions start() { return fsm.start_with_tokens(stored()); }

    /// Moves the clock to the planned refresh and fires the timer.
    keeper_actions until_refresh() {
        clock.advance(
            std::chrono::duration_cast<std::chrono::milliseconds>(fsm.next_wake() - clock.now()));
        return fsm.timer_fired();
    }

    /// A refresh that succeeds and is written: the keeper serves `name`'s token afterwards.
    keeper_actions succeed(const std::string& name) {
        auto actions = fsm.token_response(tokens(name));
        EXPECT_NE(find<keeper_do::write_state>(actions), nullptr);
        auto written = fsm.state_written();
        actions.insert(actions.end(), written.begin(), written.end());
        return actions;
    }

    manual_clock clock;
    fixed_random random;
    keeper_fsm fsm{settings(), "state file /test/state.json", clock, random};
};

} // namespace priava_tokend::testing
