#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/priava/token_response.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace priava_tokend {

/// What the daemon hands a token-request process on its standard input.
struct token_request_order {
    std::string token_url;
    std::string region;
    std::optional<std::string> ca_file;
    std::chrono::milliseconds timeout{30'000};
    secret body;
    int parent_pid = 0; ///< the child dies with this process, unless it stores
    /// The caller's order for storing what the answer brings (`token_client::request_and_store`):
    /// with it, the child outlives the daemon once it has the order, and stores Priava's answer
    /// before it sends it.
    std::optional<secret> store{};
};

/// JSON for the pipe between the daemon and its token-request process. The texts hold secrets
/// (the request body, new tokens) and travel only over that private pipe.
secret encode_order(const token_request_order& order);
outcome<token_request_order> decode_order(std::string_view text);

/// The child's answer is one line with the outcome, then, when it tried to store it, a second
/// line with the store report: the daemon has the tokens even if the child dies while storing.
secret encode_outcome(const token_outcome& outcome);
outcome<token_outcome> decode_outcome(std::string_view text);

/// `{"stored":true}`, or `{"stored":false,"error":"..."}` naming why not (never a secret).
std::string encode_store_report(const outcome<void>& stored);
/// Marks `result` stored (`token_set::stored`, `transient_failure::rotation_stored`) when
/// `report` says so; anything else (a failure, garbage, nothing) leaves it to the daemon.
void apply_store_report(std::string_view report, token_outcome& result);

} // namespace priava_tokend
