// libFuzzer target: bytes from a client of the Unix socket, parsed as one or more pipelined
// requests with the daemon's limits, routed, and answered from a keeper holding a token.
#include <priava_tokend/api/request_parser.hpp>
#include <priava_tokend/api/routes.hpp>
#include <priava_tokend/api/socket_api.hpp>
#include <priava_tokend/keeper/state_file_store.hpp>
#include <priava_tokend/priava/form_encoding.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <cstddef>
#include <cstdint>

namespace {

using namespace priava_tokend;

struct daemon_parts {
    daemon_parts()
        : store("/nonexistent/state.json", "fingerprint", io.get_executor())
        , keeper(io.get_executor(), io.get_executor(), keeper_settings{}, store, log)
        , api(keeper, log, "/nonexistent/state.json") {
        stored_tokens t;
        t.refresh_token = secret{"refresh+/="};
        t.access_token = secret{"access+/="};
        t.received_at = std::chrono::system_clock::now();
        t.expires_at = t.received_at + std::chrono::hours{6};
        t.generation = 3;
        keeper.adopt(std::move(t));
    }
    boost::asio::io_context io;
    logger log{log_format::text, log_level::error, false, -1};
    state_file_store store;
    token_keeper keeper;
    socket_api api;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static daemon_parts parts;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    request_head head;
    for (int message = 0; message < 8 && !input.empty(); ++message) {
        request_parser parser(head);
        parser.eager(true);
        boost::system::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
        if (ec || !parser.is_done()) {
            break;
        }
        input.remove_prefix(used);
        const route r = route_request(head.method, head.target);
        if (r.outcome == route::verdict::ok) {
            (void)parts.api.answer_now(r, head);
        }
        (void)parse_form(head.body);
    }
    return 0;
}
