#include <priava_tokend/api/caller.hpp>

namespace priava_tokend {

const peer_credentials* caller::credentials() {
    if (!peer) {
        peer = peer_of(fd);
    }
    return peer ? &*peer : nullptr;
}

} // namespace priava_tokend
