#include <priava_tokend/core/notifier.hpp>

#include <boost/asio/this_coro.hpp>

namespace priava_tokend {

net::awaitable<bool> notifier::wait_until(std::chrono::steady_clock::time_point deadline) {
    net::steady_timer timer(co_await net::this_coro::executor, deadline);
    const auto me = waiters_.insert(waiters_.end(), waiter{&timer});
    co_await timer.async_wait(use_nothrow);
    const bool notified = me->notified;
    waiters_.erase(me);
    co_return notified;
}

void notifier::notify_all() {
    for (auto& w : waiters_) {
        if (!w.notified) {
            w.notified = true;
            w.timer->cancel();
        }
    }
}

} // namespace priava_tokend
