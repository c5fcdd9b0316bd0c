#pragma once

#include <priava_tokend/priava/token_client.hpp>
#include <priava_tokend/priava/token_outcome_codec.hpp>

#include <memory>
#include <string>

namespace priava_tokend {

/// Sends each token request from a short-lived child process: this executable run as
/// `priava-tokend token-request`, the order on its stdin, the outcome on its stdout. The daemon
/// itself never loads OpenSSL's TLS state (4 MB that would otherwise stay resident after the
/// first refresh) and never parses a network reply in its own address space: a crash in that
/// path is a transient failure, not the end of the process that serves tokens.
///
/// Each process is started one request ahead: the first when this object is made, the next as
/// soon as a request is done. It waits for its order on its stdin, holding nothing, and dies with
/// the daemon; so a request does not wait for an executable to load (milliseconds, but a third
/// of a second under a sanitizer), and a refresh is not late when the machine is busy.
class token_request_process final : public token_client {
  public:
    /// `order` without its body; `executable` is normally /proc/self/exe.
    token_request_process(std::string executable, token_request_order order);
    ~token_request_process() override;
    token_request_process(const token_request_process&) = delete;
    token_request_process& operator=(const token_request_process&) = delete;

    /// One request at a time (the keeper never asks for two).
    net::awaitable<token_outcome> request(const secret& body) const override;

    /// A started process (defined where it is used).
    struct child;

  private:
    /// The process started ahead, if it still waits; else a new one.
    outcome<child> take_ready() const;

    std::string executable_;
    token_request_order order_;
    mutable std::unique_ptr<child> ready_; ///< started ahead, waiting for its order
};

/// The child's side: reads an order from `in`, performs it in this process and writes the
/// outcome to `out`. Returns the exit status.
int run_token_request(std::istream& in, std::ostream& out, std::ostream& err);

} // namespace priava_tokend
