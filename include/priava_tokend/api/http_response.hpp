#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace priava_tokend {

using http_message = boost::beast::http::response<boost::beast::http::string_body>;

/// An answer serialised once and shared by every request that gets it (the token answer, rebuilt
/// once a second): its bytes as a keep-alive connection needs them, and announcing
/// `Connection: close`.
struct prepared_answer {
    unsigned status = 200;
    std::string keep_alive;
    std::string closing;
};

/// A response ready for a connection: a message made for this request, or a prepared answer
/// shared with other requests. Cheap to move: the message lives on the heap, and the common
/// answer (the token) has none. Every response carries `Cache-Control: no-store`.
class response {
  public:
    response() = default;
    explicit response(http_message message)
        : message_(std::make_unique<http_message>(std::move(message))) {}
    explicit response(std::shared_ptr<const prepared_answer> prepared)
        : prepared_(std::move(prepared)) {}

    /// The message made for this request, to set headers on; a response made from a prepared
    /// answer has none.
    http_message& message() { return *message_; }

    unsigned status() const noexcept {
        return prepared_ ? prepared_->status : message_ ? message_->result_int() : 500;
    }

    /// The bytes to write, for a connection that stays open (`keep_alive`) or closes after it;
    /// valid while this object lives and is not changed.
    std::string_view wire(bool keep_alive);

    bool close = false; ///< close the connection after writing it

  private:
    std::unique_ptr<http_message> message_;
    std::shared_ptr<const prepared_answer> prepared_;
    std::string serialized_;
};

/// A response with `Content-Type`, `Cache-Control: no-store` and the body (its length set).
response make_response(unsigned status, std::string_view content_type, std::string body);

/// `{"error":"...","error_description":"..."}`, JSON-escaped.
std::string error_body(std::string_view error, std::string_view description);

/// A JSON error response.
response error_response(unsigned status, std::string_view error, std::string_view description);

/// The bytes `message` is written as.
std::string serialize(http_message& message);

/// `message` serialised in both forms; for answers many requests share.
std::shared_ptr<const prepared_answer> prepare(http_message message);

} // namespace priava_tokend
