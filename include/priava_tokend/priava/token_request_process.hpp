#pragma once

#include <priava_tokend/core/unique_fd.hpp>
#include <priava_tokend/priava/token_client.hpp>
#include <priava_tokend/priava/token_outcome_codec.hpp>

#include <chrono>
#include <functional>
#include <iosfwd>
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
/// soon as a request is done. It waits for its order on its stdin, and ends when its stdin
/// closes; so a request does not wait for an executable to load (milliseconds, but a third of a
/// second under a sanitizer), and a refresh is not late when the machine is busy.
///
/// Given the daemon's state lock (`lock`, a descriptor of its own), every process inherits it as
/// `token_request_lock_fd`, and `request_and_store` makes the process store what Priava answers
/// before it answers (docs/state-file.md#who-writes-it): a process with such an order outlives a
/// daemon killed meanwhile, still holding the lock. Without it, the process dies with the daemon.
class token_request_process final : public token_client {
  public:
    /// `order` without its body; `executable` is normally /proc/self/exe.
    token_request_process(std::string executable, token_request_order order, unique_fd lock = {});
    ~token_request_process() override;
    token_request_process(const token_request_process&) = delete;
    token_request_process& operator=(const token_request_process&) = delete;

    /// One request at a time (the keeper never asks for two).
    net::awaitable<token_outcome> request(const secret& body) const override;
    /// Sends `store` along when this object has the lock to hand on; else as `request`.
    net::awaitable<token_outcome> request_and_store(const secret& body,
                                                    const secret& store) const override;

    /// A started process (defined where it is used).
    struct child;

  private:
    /// The process started ahead, if it still waits; else a new one.
    outcome<child> take_ready() const;
    net::awaitable<token_outcome> perform(const secret& body, const secret* store) const;

    std::string executable_;
    token_request_order order_;
    unique_fd lock_;
    mutable std::unique_ptr<child> ready_; ///< started ahead, waiting for its order
};

/// Where a token request process finds the daemon's state lock, when it was given one.
inline constexpr int token_request_lock_fd = 3;

/// How long past `request_timeout` a token request process whose daemon died may still hold the
/// daemon's state lock: its own deadline is 2 s past it, then it writes the state (two fsyncs).
/// A restarting daemon waits that long for the lock.
inline constexpr std::chrono::seconds orphan_grace{10};

/// How a token request process stores an outcome worth storing (new tokens, or a rotated refresh
/// token), given the order's `store`: supplied by the layer that owns the state file.
using store_step = std::function<outcome<void>(const secret& store, const token_outcome& result)>;

/// The child's side: reads an order from `in`, performs it in this process and writes the
/// outcome to `out`; with a `store` order it then stores the outcome through `store` and writes
/// the report as a second line. Returns the exit status.
int run_token_request(std::istream& in, std::ostream& out, std::ostream& err,
                      const store_step& store);

} // namespace priava_tokend
