#pragma once

#include <priava_tokend/core/secret.hpp>
#include <priava_tokend/keeper/token_answer.hpp>

#include <cstdint>
#include <optional>
#include <utility>

namespace priava_tokend {

/// An authorization code waiting to be exchanged, from `bootstrap.code_file` or the socket.
struct pending_code {
    secret code;
    bool from_socket = false;
    std::uint64_t id = 0; ///< what a socket bootstrap waits for the answer by
};

/// The code the keeper exchanges next (at most one waits; a newer one replaces it), and the
/// answer owed to a bootstrap over the socket. Part of `keeper_fsm`'s state.
class code_queue {
  public:
    bool waiting() const noexcept { return next_.has_value(); }
    bool socket_code_waiting() const noexcept { return next_ && next_->from_socket; }

    /// Queues `code`; returns its number.
    std::uint64_t offer(secret code, bool from_socket);
    /// Takes the waiting code out, to send it. Only while `waiting()`.
    pending_code take();
    /// Puts back a code that was not spent (a transient failure), unless another came meanwhile.
    void put_back(pending_code code);

    /// What the socket bootstrap numbered `id` is to be told.
    void answer(std::uint64_t id, token_answer a);
    /// That answer, once; nothing while there is none for `id`.
    std::optional<token_answer> take_answer(std::uint64_t id);

  private:
    std::optional<pending_code> next_;
    std::optional<std::pair<std::uint64_t, token_answer>> answer_;
    std::uint64_t next_id_ = 1;
};

} // namespace priava_tokend
