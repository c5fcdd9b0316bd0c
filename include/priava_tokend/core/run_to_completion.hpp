#pragma once

#include <priava_tokend/core/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <optional>

namespace priava_tokend {

/// Runs `task` on `io` until it completes, for at most `limit`; other work on `io` (a test's fake
/// server) runs meanwhile and stays queued afterwards. Returns the task's result, or nothing when
/// `limit` passed first or `io` ran out of work. An exception from the task is rethrown: in this
/// code base that is a bug, not an outcome.
template <class T>
std::optional<T> run_to_completion(net::io_context& io, net::awaitable<T> task,
                                   std::chrono::steady_clock::duration limit) {
    std::optional<T> result;
    std::exception_ptr failure;
    bool done = false;
    net::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
        done = true;
        failure = e;
        if (!e) {
            result.emplace(std::move(value));
        }
    });
    if (io.stopped()) {
        io.restart();
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done && io.run_one_until(deadline) > 0) {
    }
    if (failure) {
        std::rethrow_exception(failure);
    }
    return result;
}

} // namespace priava_tokend
