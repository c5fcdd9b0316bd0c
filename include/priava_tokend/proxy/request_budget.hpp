#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace priava_tokend {

/// The limits the budget keeps: the `[proxy]` section of the coming API proxy.
struct budget_limits {
    std::size_t budget = 450;                  ///< requests to Priava in any window
    std::chrono::milliseconds window{300'000}; ///< sliding
    std::size_t max_concurrent = 8;            ///< requests to Priava in flight
    std::size_t max_queued = 1024;             ///< waiting, all clients together
    std::chrono::milliseconds max_queue_wait{30'000};
};

/// Who may send the next request to Priava, without I/O: at most `budget` sends in any
/// `window`-long span (a sliding window, whatever the phase of Priava's own fixed window), at most
/// `max_concurrent` in flight, none while Priava's 429 pause lasts. Requests wait in a queue
/// served round-robin across clients, so one busy app cannot starve another; token requests
/// (`first`) go before all of them. The time is passed in, so tests step it by hand.
class request_budget {
  public:
    using clock = std::chrono::steady_clock;
    using ticket = std::uint64_t;

    explicit request_budget(budget_limits limits)
        : limits_(limits) {}

    /// A request wants to be sent; its ticket, or nothing when `max_queued` are waiting already.
    std::optional<ticket> arrive(std::string_view client, clock::time_point now,
                                 bool first = false);

    /// A request that was answered and must be sent once more (after a 401, with a newer token):
    /// it waits behind the token requests and before every client's queue; `max_queued` does not
    /// refuse it.
    ticket arrive_again();

    /// Grants what may be sent at `now`, in the queue's order: each granted ticket counts in the
    /// window; an API request also takes a slot of `max_concurrent` until `finished` (a token
    /// request does not: it goes first even when every slot is taken).
    /// The list is the budget's own, valid until the next `grant`.
    const std::vector<ticket>& grant(clock::time_point now);

    /// The earliest moment `grant` could give more without a `finished` or an `arrive`; the
    /// time point's max when only those can.
    clock::time_point next_grant(clock::time_point now) const;

    /// A granted request is over: its slot is free.
    void finished(ticket t);

    /// A granted request got Priava's 429: nothing is granted before `until` (clamped to one
    /// second at least and `window` at most), and the request waits again, at the head of the
    /// queue.
    void rate_limited(ticket t, clock::time_point now, clock::time_point until);

    /// A waiting request gives up (its `max_queue_wait` passed, or its client left).
    void leave(ticket t);

    bool waiting(ticket t) const;
    std::size_t queued() const noexcept { return queued_; }
    std::size_t in_flight() const noexcept { return in_flight_; }
    /// Sends in the window that ends at `now`.
    std::size_t in_window(clock::time_point now) const;
    std::optional<clock::time_point> paused_until(clock::time_point now) const;
    /// For a request refused or out of time: when a send is likely again, at least a second.
    std::chrono::seconds retry_after(clock::time_point now) const;
    const budget_limits& limits() const noexcept { return limits_; }

  private:
    struct waiting_client {
        std::string name;
        std::deque<ticket> tickets;
    };

    void forget_old_sends(clock::time_point now) const;
    std::optional<ticket> next_in_line();
    void remove(ticket t);
    /// Takes `t` off the tickets in flight; false when it was not there.
    bool land(ticket t);
    /// Puts an emptied client's entry aside for reuse.
    void retire(std::list<waiting_client>::iterator c);

    budget_limits limits_;
    mutable std::deque<clock::time_point> sends_; ///< within the last window, oldest first
    std::deque<ticket> first_;                    ///< token requests
    std::deque<ticket> again_;                    ///< sent, answered 429, to be sent again
    std::list<waiting_client> rotation_;          ///< clients with waiting requests, in turn
    /// Entries of clients no longer waiting, kept with their memory for the next: a call costs
    /// no allocation here.
    std::list<waiting_client> spare_clients_;
    std::size_t queued_ = 0;
    std::vector<ticket> in_flight_tickets_; ///< at most `max_concurrent`
    std::vector<ticket> granted_;
    std::size_t in_flight_ = 0;
    std::optional<clock::time_point> pause_until_;
    ticket next_ticket_ = 1;
};

} // namespace priava_tokend
