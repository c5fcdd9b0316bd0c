#pragma once

#include <priava_tokend/priava/token_client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace priava_tokend::testing {

/// Runs one request of `client` on `io` (which also serves the fake Priava) until its outcome
/// arrives, for at most 20 s; a missing outcome fails the test.
inline token_outcome run_request(net::io_context& io, const token_client& client,
                                 const secret& body) {
    using namespace std::chrono_literals;
    std::optional<token_outcome> result;
    net::co_spawn(io, client.request(body), [&](std::exception_ptr e, token_outcome o) {
        ASSERT_FALSE(e);
        result = std::move(o);
    });
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!result && std::chrono::steady_clock::now() < deadline) {
        io.run_for(20ms);
    }
    EXPECT_TRUE(result) << "no outcome within 20 s";
    return result ? std::move(*result) : token_outcome{transient_failure{}};
}

} // namespace priava_tokend::testing
