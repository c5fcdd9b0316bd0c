#include <priava_tokend/api/request_parser.hpp>
#include <priava_tokend/proxy/upstream_target.hpp>

#include <boost/beast/core/string.hpp>

namespace priava_tokend {

request_parser::request_parser(request_head& into, std::uint64_t proxy_body_limit)
    : head_(into)
    , proxy_body_limit_(proxy_body_limit) {
    header_limit(largest_head);
    body_limit(largest_body);
    head_.method = verb::unknown;
    head_.target.clear();
    head_.content_type.clear();
    head_.body.clear();
    head_.expect_continue = false;
    head_.unmet_expectation = false;
    if (head_.proxied) {
        head_.proxied = false;
        head_.fields.clear();
        if (head_.body.capacity() > 64 * 1024) {
            head_.body.shrink_to_fit(); // a large upload's buffer is not kept for token requests
        }
    }
}

void request_parser::on_request_impl(verb method, string_view, string_view target, int version,
                                     error_code&) {
    head_.method = method;
    head_.version = static_cast<unsigned>(version);
    head_.target.assign(target.data(), target.size());
    head_.proxied = head_.target.starts_with(proxy_route_prefix);
    if (head_.proxied && proxy_body_limit_ > 0) {
        body_limit(proxy_body_limit_);
    }
}

void request_parser::on_field_impl(field name, string_view name_text, string_view value,
                                   error_code& ec) {
    if (head_.proxied) {
        head_.fields.insert(name, name_text, value);
    }
    if (name == field::expect) {
        // RFC 9110 §10.1.1: 100-continue is answered as soon as the head is read (the server
        // sends 100 Continue, or the final answer when the request is refused); any other
        // expectation cannot be met.
        if (!boost::beast::iequals(value, "100-continue")) {
            ec = boost::beast::http::error::bad_field;
            head_.unmet_expectation = true;
            return;
        }
        head_.expect_continue = true;
    }
    if (name == field::transfer_encoding && !boost::beast::iequals(value, "chunked")) {
        // RFC 9112 §6.1: chunked is the only coding understood here, and a request whose body
        // length cannot be told must be refused (400) rather than guessed at.
        ec = boost::beast::http::error::bad_transfer_encoding;
        return;
    }
    if (name == field::content_type) {
        head_.content_type.assign(value.data(), value.size());
    }
}

std::size_t request_parser::on_body_impl(string_view body, error_code&) {
    head_.body.append(body.data(), body.size());
    return body.size();
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    head_.body.append(body.data(), body.size());
    return body.size();
}

} // namespace priava_tokend
