#pragma once

#include <priava_tokend/core/asio.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <list>

namespace priava_tokend {

/// Wakes every coroutine waiting on it: "something changed, look again". A waiter passes its own
/// deadline, so no wait is unbounded. Single-threaded: all calls on the owning executor.
class notifier {
  public:
    /// True when woken by `notify_all`, false at the deadline or when the waiting coroutine is
    /// cancelled (check its cancellation state to tell those apart).
    net::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline);

    void notify_all();

    std::size_t waiting() const noexcept { return waiters_.size(); }

  private:
    struct waiter {
        net::steady_timer* timer;
        bool notified = false;
    };
    std::list<waiter> waiters_;
};

} // namespace priava_tokend
