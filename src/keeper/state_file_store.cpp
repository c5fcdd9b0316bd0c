#include <priava_tokend/keeper/delegated_write.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/keeper/state_file_store.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace priava_tokend {
namespace {

/// Runs on the blocking executor. A plain coroutine with by-value parameters rather than a
/// capturing lambda: GCC 12 destroys lambda temporaries inside co_await expressions twice.
net::awaitable<outcome<void>> write_file(std::string path, secret text) {
    co_return write_state_file(path, text);
}

} // namespace

state_file_store::state_file_store(std::string path, std::string fingerprint,
                                   net::any_io_executor blocking)
    : path_(std::move(path))
    , fingerprint_(std::move(fingerprint))
    , blocking_(std::move(blocking)) {}

outcome<stored_tokens> state_file_store::load() {
    return read_state_file(path_, fingerprint_);
}

net::awaitable<outcome<void>> state_file_store::save(stored_tokens tokens) {
    co_return co_await net::co_spawn(
        blocking_, write_file(path_, encode_state(tokens, fingerprint_)), net::use_awaitable);
}

std::optional<secret>
state_file_store::delegated_write_order(const stored_tokens& before,
                                        const std::string& code_digest) const {
    return encode_delegated_write(delegated_write{path_, fingerprint_, before, code_digest});
}

} // namespace priava_tokend
