#include <priava_tokend/core/version.hpp>
#include <priava_tokend/priava/https_connector.hpp>
#include <priava_tokend/priava/oauth_client.hpp>
#include <priava_tokend/priava/tls_context.hpp>
#include <priava_tokend/priava/token_request.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <arpa/inet.h>

namespace priava_tokend {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using https_connector::timed_out;
using std::chrono::steady_clock;

constexpr std::size_t largest_response_head = 16 * 1024;

transient_failure transient(errc reason, std::string detail) {
    return transient_failure{reason, std::move(detail), 0, std::nullopt, std::nullopt};
}

template <class Stream>
net::awaitable<token_outcome>
exchange(Stream& stream, beast::tcp_stream& socket, http::request<http::string_body>& req,
         steady_clock::time_point deadline, const std::string& where) {
    socket.expires_at(deadline);
    auto [write_ec, written] = co_await http::async_write(stream, req, use_nothrow);
    wipe(req.body());
    if (write_ec) {
        co_return transient(timed_out(write_ec, deadline) ? errc::request_timeout
                                                          : errc::connection_lost,
                            "sending the token request to " + where + ": " + write_ec.message());
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(largest_response_head);
    parser.body_limit(largest_token_response);
    socket.expires_at(deadline);
    auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (read_ec == http::error::body_limit || read_ec == http::error::header_limit ||
        read_ec == http::error::buffer_overflow) {
        co_return transient(errc::response_too_large,
                            "reply from " + where + " is larger than 64 KiB");
    }
    if (read_ec) {
        if (timed_out(read_ec, deadline)) {
            co_return transient(errc::request_timeout,
                                "no complete reply from " + where + " before request_timeout");
        }
        const bool garbled =
            read_ec.category() == http::make_error_code(http::error::bad_version).category() &&
            read_ec != http::error::partial_message && read_ec != http::error::end_of_stream;
        co_return transient(garbled ? errc::malformed_response : errc::connection_lost,
                            "reading the reply from " + where + ": " + read_ec.message());
    }
    auto response = parser.release();
    const auto retry_after = response[http::field::retry_after];
    auto outcome = classify_token_response(response.result_int(), response.body(), retry_after,
                                           std::chrono::system_clock::now());
    wipe(response.body());
    buffer.consume(buffer.size());
    co_return outcome;
}

/// The token request as Priava's page shows it.
http::request<http::string_body> token_http_request(const token_endpoint& ep, region tenant,
                                                    const secret& body) {
    http::request<http::string_body> req{http::verb::post, ep.target, 11};
    req.set(http::field::host, ep.host_header);
    req.set(http::field::content_type, token_request_content_type);
    req.set("TenantRegion", to_string(tenant));
    req.set(http::field::accept, "application/json");
    req.set(http::field::user_agent, "priava-tokend/" + std::string(version()));
    req.set(http::field::connection, "close");
    req.body().assign(body.reveal());
    req.prepare_payload();
    return req;
}

} // namespace

oauth_client::oauth_client(token_endpoint endpoint, region tenant,
                           std::optional<std::string> ca_file, milliseconds timeout)
    : endpoint_(std::move(endpoint))
    , tenant_(tenant)
    , ca_file_(std::move(ca_file))
    , timeout_(timeout) {}

net::awaitable<token_outcome> oauth_client::request(const secret& body) const {
    const auto deadline = steady_clock::now() + timeout_;
    const std::string& where = endpoint_.host_header;
    auto resolved = co_await https_connector::resolve(endpoint_, deadline);
    if (auto* f = std::get_if<transient_failure>(&resolved)) {
        co_return std::move(*f);
    }
    beast::tcp_stream socket(co_await net::this_coro::executor);
    auto refused = co_await https_connector::connect(
        socket, std::get<tcp::resolver::results_type>(resolved), deadline, where);
    if (refused) {
        co_return std::move(*refused);
    }
    auto req = token_http_request(endpoint_, tenant_, body);
    if (!endpoint_.tls) {
        co_return co_await exchange(socket, socket, req, deadline, where);
    }
    auto tls = make_tls_client_context(ca_file_);
    if (!tls) {
        wipe(req.body());
        co_return transient(errc::tls_failed, tls.error().message);
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), **tls);
    auto untrusted = co_await https_connector::handshake(stream, endpoint_.host, deadline, where);
    if (untrusted) {
        wipe(req.body());
        co_return std::move(*untrusted);
    }
    co_return co_await exchange(stream, beast::get_lowest_layer(stream), req, deadline, where);
}

} // namespace priava_tokend
