#pragma once

#include <priava_tokend/core/run_to_completion.hpp>
#include <priava_tokend/priava/token_client.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>

namespace priava_tokend::testing {

/// Runs one request of `client` on `io` (which also serves the fake Priava) until its outcome
/// arrives, for at most 20 s; a missing outcome fails the test.
inline token_outcome run_request(net::io_context& io, const token_client& client,
                                 const secret& body) {
    using namespace std::chrono_literals;
    auto result = run_to_completion(io, client.request(body), 20s);
    EXPECT_TRUE(result) << "no outcome within 20 s";
    return result ? std::move(*result) : token_outcome{transient_failure{}};
}

/// As `run_request`, through `request_and_store` with `store`.
inline token_outcome run_request_and_store(net::io_context& io, const token_client& client,
                                           const secret& body, const secret& store) {
    using namespace std::chrono_literals;
    auto result = run_to_completion(io, client.request_and_store(body, store), 20s);
    EXPECT_TRUE(result) << "no outcome within 20 s";
    return result ? std::move(*result) : token_outcome{transient_failure{}};
}

} // namespace priava_tokend::testing
