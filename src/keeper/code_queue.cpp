#include <priava_tokend/keeper/code_queue.hpp>

namespace priava_tokend {

std::uint64_t code_queue::offer(secret code, bool from_socket) {
    const std::uint64_t id = next_id_++;
    next_ = pending_code{std::move(code), from_socket, id};
    return id;
}

pending_code code_queue::take() {
    pending_code code = std::move(*next_);
    next_.reset();
    return code;
}

void code_queue::put_back(pending_code code) {
    if (!next_) {
        next_ = std::move(code);
    }
}

void code_queue::answer(std::uint64_t id, token_answer a) {
    answer_.emplace(id, std::move(a));
}

std::optional<token_answer> code_queue::take_answer(std::uint64_t id) {
    if (!answer_ || answer_->first != id) {
        return std::nullopt;
    }
    token_answer a = std::move(answer_->second);
    answer_.reset();
    return a;
}

} // namespace priava_tokend
