#include <priava_tokend/cluster/cluster_store.hpp>

namespace priava_tokend {

net::awaitable<outcome<void>> cluster_store::save(stored_tokens tokens) {
    auto local = co_await local_.save(tokens);
    auto shared = co_await member_.commit(tokens);
    if (!shared) {
        co_return shared.error();
    }
    co_return local;
}

} // namespace priava_tokend
