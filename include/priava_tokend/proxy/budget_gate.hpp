#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/proxy/request_budget.hpp>

#include <boost/asio/steady_timer.hpp>

#include <string_view>
#include <unordered_map>
#include <vector>

namespace priava_tokend {

/// The asynchronous side of `request_budget`: requests wait here for their turn to reach
/// Priava. Every change (an arrival, a finish, a 429, the window moving on) grants what may go
/// and wakes exactly those waiters; one timer stands for the next moment the budget frees up.
/// Single-threaded: every call on the executor `ex`.
class budget_gate {
  public:
    using clock = request_budget::clock;
    using ticket = request_budget::ticket;

    budget_gate(net::any_io_executor ex, budget_limits limits);
    ~budget_gate();
    budget_gate(const budget_gate&) = delete;
    budget_gate& operator=(const budget_gate&) = delete;

    enum class verdict { granted, queue_full, timed_out, client_left, waiting };

    /// A request in line: its ticket (kept for `finished`, `rate_limited` and `wait`).
    struct admission {
        verdict result = verdict::granted;
        ticket id = 0;
    };

    /// Joins the queue as `client` (a token request when `first`) and waits for a grant until
    /// `until`. `hangup_fd`, when not -1, is the app's connection: if the app hangs up while
    /// waiting, the request leaves the queue at once and spends nothing.
    net::awaitable<admission> enter(std::string_view client, clock::time_point until,
                                    int hangup_fd = -1, bool first = false);

    /// `enter` without waiting: `granted` or `queue_full` at once, else `waiting` with the
    /// ticket to `wait` for. Most requests find room and need no coroutine of their own.
    admission try_enter(std::string_view client);

    /// Waits for `t` (after `rate_limited`, from `again`, or from `try_enter`) to be granted.
    net::awaitable<admission> wait(ticket t, clock::time_point until, int hangup_fd = -1);

    /// A request answered and to be sent once more (a 401 retry): its ticket, ahead of the
    /// clients' queues; `wait` for it.
    ticket again();

    /// A granted request is over; its slot of `max_concurrent` is free.
    void finished(ticket t);

    /// A granted request got Priava's 429: nothing is sent before `until` (clamped to
    /// [1 s, window]) and the request waits again at the head of the queue; `wait` for it.
    void rate_limited(ticket t, clock::time_point until);

    /// A token request got Priava's 429: the same pause, but the keeper retries it itself.
    void pause(ticket t, clock::time_point until);

    /// Shutdown: every waiting request and every later one ends `timed_out` at once.
    void close();
    bool closed() const noexcept { return closed_; }

    const request_budget& budget() const noexcept { return budget_; }

  private:
    struct waiter;
    class hangup_watch;

    /// Grants what may go now, wakes those waiters, and sets the timer for the next grant.
    void dispatch();

    net::any_io_executor ex_;
    request_budget budget_;
    std::unordered_map<ticket, waiter*> waiters_;
    std::vector<ticket> unclaimed_; ///< granted before `wait` was called for them (a few)
    /// Takes `t` off `unclaimed_`; false when it was not there.
    bool claim(ticket t);
    net::steady_timer pump_;
    clock::time_point pump_at_ = clock::time_point::max();
    bool closed_ = false;
};

} // namespace priava_tokend
