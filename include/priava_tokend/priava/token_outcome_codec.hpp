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
    int parent_pid = 0; ///< the child dies with this process
};

/// JSON for the pipe between the daemon and its token-request process. The texts hold secrets
/// (the request body, new tokens) and travel only over that private pipe.
secret encode_order(const token_request_order& order);
outcome<token_request_order> decode_order(std::string_view text);

secret encode_outcome(const token_outcome& outcome);
outcome<token_outcome> decode_outcome(std::string_view text);

} // namespace priava_tokend
