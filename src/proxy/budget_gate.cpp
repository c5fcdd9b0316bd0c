#include <priava_tokend/core/unique_fd.hpp>
#include <priava_tokend/proxy/budget_gate.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>

#include <algorithm>
#include <memory>

#include <sys/socket.h>
#include <unistd.h>

namespace priava_tokend {

/// A waiting request: its timer is cancelled to wake it.
struct budget_gate::waiter {
    explicit waiter(const net::any_io_executor& ex)
        : timer(ex) {}
    net::steady_timer timer;
    bool granted = false;
    bool client_left = false;
};

/// Watches an app's connection while its request waits: when the app hangs up (the socket reads
/// as ended), the waiter is woken as `client_left`. A copy of the descriptor is watched, so the
/// connection's own socket object is left alone. Data the app pipelines behind its request ends
/// the watch instead (the request then waits for its grant or its deadline).
class budget_gate::hangup_watch {
  public:
    hangup_watch(net::any_io_executor ex, int fd, waiter& w)
        : state_(std::make_shared<state>(ex, w)) {
        unique_fd copy{::dup(fd)};
        if (!copy.valid()) {
            return; // out of descriptors: the deadline still bounds the wait
        }
        boost::system::error_code ec;
        state_->descriptor.assign(copy.release(), ec);
        if (ec) {
            return;
        }
        state_->descriptor.async_wait(
            net::posix::stream_descriptor::wait_read,
            [s = state_](boost::system::error_code wait_ec) {
                if (wait_ec || s->owner == nullptr) {
                    return;
                }
                char byte = 0;
                const ssize_t n =
                    ::recv(s->descriptor.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    s->owner->client_left = true;
                    s->owner->timer.cancel();
                }
            });
    }
    ~hangup_watch() {
        state_->owner = nullptr;
        boost::system::error_code ignored;
        state_->descriptor.close(ignored);
    }
    hangup_watch(const hangup_watch&) = delete;
    hangup_watch& operator=(const hangup_watch&) = delete;

  private:
    struct state {
        state(const net::any_io_executor& ex, waiter& w)
            : descriptor(ex)
            , owner(&w) {}
        net::posix::stream_descriptor descriptor;
        waiter* owner;
    };
    std::shared_ptr<state> state_;
};

budget_gate::budget_gate(net::any_io_executor ex, budget_limits limits)
    : ex_(ex)
    , budget_(limits)
    , pump_(ex) {}

budget_gate::~budget_gate() {
    pump_.cancel();
}

net::awaitable<budget_gate::admission>
budget_gate::enter(std::string_view client, clock::time_point until, int hangup_fd, bool first) {
    const auto t = budget_.arrive(client, clock::now(), first);
    if (!t) {
        co_return admission{verdict::queue_full, 0};
    }
    co_return co_await wait(*t, until, hangup_fd);
}

net::awaitable<budget_gate::admission> budget_gate::wait(ticket t, clock::time_point until,
                                                         int hangup_fd) {
    waiter w(ex_);
    // Leaves the queue whichever way the wait ends, the coroutine's destruction included.
    struct registration {
        budget_gate& gate;
        ticket t;
        waiter& w;
        ~registration() {
            gate.waiters_.erase(t);
            if (!w.granted) {
                gate.budget_.leave(t);
                gate.dispatch();
            }
        }
    } const reg{*this, t, w};
    waiters_[t] = &w;
    w.granted = claim(t);
    dispatch();
    std::optional<hangup_watch> watch;
    if (!w.granted && hangup_fd >= 0) {
        watch.emplace(ex_, hangup_fd, w);
    }
    while (!w.granted && !w.client_left && !closed_ && clock::now() < until) {
        w.timer.expires_at(until);
        co_await w.timer.async_wait(use_nothrow);
    }
    if (w.granted) {
        co_return admission{verdict::granted, t};
    }
    co_return admission{w.client_left ? verdict::client_left : verdict::timed_out, t};
}

budget_gate::admission budget_gate::try_enter(std::string_view client) {
    const auto t = budget_.arrive(client, clock::now());
    if (!t) {
        return admission{verdict::queue_full, 0};
    }
    if (closed_) {
        return admission{verdict::waiting, *t}; // `wait` ends it at once
    }
    dispatch();
    if (claim(*t)) {
        return admission{verdict::granted, *t};
    }
    return admission{verdict::waiting, *t};
}

budget_gate::ticket budget_gate::again() {
    return budget_.arrive_again();
}

void budget_gate::finished(ticket t) {
    budget_.finished(t);
    dispatch();
}

void budget_gate::rate_limited(ticket t, clock::time_point until) {
    budget_.rate_limited(t, clock::now(), until);
    dispatch();
}

void budget_gate::pause(ticket t, clock::time_point until) {
    budget_.rate_limited(t, clock::now(), until);
    budget_.leave(t);
    dispatch();
}

void budget_gate::close() {
    closed_ = true;
    pump_.cancel();
    for (auto& [t, w] : waiters_) {
        w->timer.cancel();
    }
}

bool budget_gate::claim(ticket t) {
    const auto it = std::find(unclaimed_.begin(), unclaimed_.end(), t);
    if (it == unclaimed_.end()) {
        return false;
    }
    *it = unclaimed_.back();
    unclaimed_.pop_back();
    return true;
}

void budget_gate::dispatch() {
    if (closed_) {
        return;
    }
    const auto now = clock::now();
    for (const ticket t : budget_.grant(now)) {
        const auto it = waiters_.find(t);
        if (it != waiters_.end()) {
            it->second->granted = true;
            it->second->timer.cancel();
        } else {
            unclaimed_.push_back(t); // granted before its request began to wait
        }
    }
    const auto next = budget_.next_grant(now);
    if (next == pump_at_) {
        return;
    }
    pump_at_ = next;
    if (next == clock::time_point::max()) {
        pump_.cancel();
        return;
    }
    pump_.expires_at(next);
    pump_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            pump_at_ = clock::time_point::max();
            dispatch();
        }
    });
}

} // namespace priava_tokend
