#include <priava_tokend/proxy/budgeted_token_client.hpp>

namespace priava_tokend {

using steady = std::chrono::steady_clock;

steady::time_point steady_moment(wall_time at, wall_time wall_now, steady::time_point steady_now) {
    // Both clocks count in nanoseconds; a date decades away only needs to stay far away.
    const auto ahead = std::chrono::duration_cast<steady::duration>(at - wall_now);
    const auto limit = std::chrono::duration_cast<steady::duration>(std::chrono::hours{24 * 365});
    return steady_now + std::clamp(ahead, -limit, limit);
}

net::awaitable<token_outcome> budgeted_token_client::request(const secret& body) const {
    co_return co_await through_gate(body, nullptr);
}

net::awaitable<token_outcome> budgeted_token_client::request_and_store(const secret& body,
                                                                       const secret& store) const {
    co_return co_await through_gate(body, &store);
}

net::awaitable<token_outcome> budgeted_token_client::through_gate(const secret& body,
                                                                  const secret* store) const {
    const auto admitted = co_await gate_.enter("", steady::time_point::max(), -1, true);
    if (admitted.result != budget_gate::verdict::granted) { // the daemon is stopping
        co_return transient_failure{errc::request_timeout, "not sent: the daemon is stopping", 0,
                                    std::nullopt, std::nullopt};
    }
    if (shared_ != nullptr) {
        const auto drawn = co_await shared_->draw(steady::now() + std::chrono::seconds{30});
        if (!drawn.granted) {
            gate_.finished(admitted.id);
            co_return transient_failure{errc::rate_limited,
                                        drawn.unavailable
                                            ? "not sent: the cluster's budget cannot be read"
                                            : "not sent: the cluster's budget is spent",
                                        0, drawn.retry_at, std::nullopt};
        }
    }
    token_outcome outcome;
    if (store != nullptr) {
        outcome = co_await inner_->request_and_store(body, *store);
    } else {
        outcome = co_await inner_->request(body);
    }
    const auto* failed = std::get_if<transient_failure>(&outcome);
    if (failed != nullptr && failed->http_status == 429) {
        const auto wall_now = std::chrono::system_clock::now();
        const auto steady_now = steady::now();
        gate_.pause(admitted.id, failed->retry_after
                                     ? steady_moment(*failed->retry_after, wall_now, steady_now)
                                     : steady_now);
        if (shared_ != nullptr) { // every node pauses
            const auto paused = gate_.budget().paused_until(steady_now);
            co_await shared_->pause(wall_now +
                                    (paused ? *paused - steady_now : steady::duration{}));
        }
    } else {
        gate_.finished(admitted.id);
    }
    co_return outcome;
}

} // namespace priava_tokend
