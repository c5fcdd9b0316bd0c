#include <priava_tokend/cluster/cluster_token_client.hpp>

namespace priava_tokend {

net::awaitable<token_outcome> cluster_token_client::request(const secret& body) const {
    auto fenced = co_await member_.begin_request();
    if (!fenced) {
        co_return transient_failure{errc::server_error, fenced.error().message, 0, std::nullopt,
                                    std::nullopt};
    }
    co_return co_await inner_->request(body);
}

} // namespace priava_tokend
