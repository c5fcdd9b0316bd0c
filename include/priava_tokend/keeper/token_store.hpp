#pragma once

#include <priava_tokend/core/asio.hpp>
#include <priava_tokend/core/error.hpp>
#include <priava_tokend/keeper/stored_tokens.hpp>

#include <optional>
#include <string>

namespace priava_tokend {

/// Where the keeper keeps what must survive a restart (today the state file; docs/state-file.md).
/// The keeper asks for one write at a time and serves a new access token only after its refresh
/// token was written (or the write failed, when it retries).
class token_store {
  public:
    virtual ~token_store() = default;

    /// What was stored: `state_missing` when nothing was, other failures naming what is wrong.
    /// Blocking; called at start, before the event loop runs.
    virtual outcome<stored_tokens> load() = 0;

    /// Stores `tokens` durably, replacing what was stored; never leaves a partial state. May run
    /// off the calling thread; resumes the caller on its own executor.
    virtual net::awaitable<outcome<void>> save(stored_tokens tokens) = 0;

    /// The store as log lines name it: "state file /var/lib/priava-tokend/state.json".
    virtual std::string name() const = 0;

    /// The order for a token request process to store, in the keeper's place, what the answer to
    /// a request sent from `before` brings (delegated_write.hpp); nothing when this store must
    /// write itself. The keeper still writes when the process says it did not.
    virtual std::optional<secret> delegated_write_order(const stored_tokens& /*before*/,
                                                        const std::string& /*code_digest*/) const {
        return std::nullopt;
    }
};

} // namespace priava_tokend
