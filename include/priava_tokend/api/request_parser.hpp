#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/fields.hpp>

#include <string>

namespace priava_tokend {

/// The parts of a request the socket API looks at. One lives per connection and is reused, so
/// its strings keep their capacity and a steady stream of requests allocates nothing.
struct request_head {
    boost::beast::http::verb method = boost::beast::http::verb::unknown;
    unsigned version = 11;
    std::string target;
    std::string content_type;
    std::string body;
    /// The target is below `/v1/proxy/`: every header is kept in `fields`, and the body may be as
    /// large as the proxy's `max_request_body`.
    bool proxied = false;
    bool expect_continue = false;   ///< `Expect: 100-continue`
    bool unmet_expectation = false; ///< an `Expect:` other than 100-continue (answered 417)
    boost::beast::http::fields fields;
};

/// An HTTP/1.1 request parser that fills a `request_head` and keeps nothing else: heads over
/// 8 KiB fail with `header_limit`, bodies over 1 KiB with `body_limit`, or, for a proxied
/// request, over `proxy_body_limit` when the proxy is on (not 0). A `Transfer-Encoding` other than
/// `chunked` fails with `bad_transfer_encoding` (RFC 9112 §6.1), an expectation other than
/// 100-continue with `bad_field`.
class request_parser final : public boost::beast::http::basic_parser<true> {
  public:
    static constexpr std::uint32_t largest_head = 8 * 1024;
    static constexpr std::uint64_t largest_body = 1024;

    explicit request_parser(request_head& into, std::uint64_t proxy_body_limit = 0);

  private:
    using error_code = boost::beast::error_code;
    using string_view = boost::beast::string_view;
    using verb = boost::beast::http::verb;
    using field = boost::beast::http::field;

    void on_request_impl(verb method, string_view, string_view target, int version,
                         error_code&) override;
    void on_response_impl(int, string_view, int, error_code&) override {}
    void on_field_impl(field name, string_view, string_view value, error_code& ec) override;
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(string_view body, error_code&) override;
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override;
    void on_finish_impl(error_code&) override {}

    request_head& head_;
    std::uint64_t proxy_body_limit_;
};

} // namespace priava_tokend
