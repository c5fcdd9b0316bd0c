#pragma once

#include <priava_tokend/priava/token_client.hpp>
#include <priava_tokend/priava/token_outcome_codec.hpp>

#include <string>

namespace priava_tokend {

/// Sends each token request from a short-lived child process: this executable run as
/// `priava-tokend token-request`, the order on its stdin, the outcome on its stdout. The daemon
/// itself never loads OpenSSL's TLS state (4 MB that would otherwise stay resident after the
/// first refresh) and never parses a network reply in its own address space: a crash in that
/// path is a transient failure, not the end of the process that serves tokens.
class token_request_process final : public token_client {
  public:
    /// `order` without its body; `executable` is normally /proc/self/exe.
    token_request_process(std::string executable, token_request_order order);

    net::awaitable<token_outcome> request(const secret& body) const override;

  private:
    std::string executable_;
    token_request_order order_;
};

/// The child's side: reads an order from `in`, performs it in this process and writes the
/// outcome to `out`. Returns the exit status.
int run_token_request(std::istream& in, std::ostream& out, std::ostream& err);

} // namespace priava_tokend
