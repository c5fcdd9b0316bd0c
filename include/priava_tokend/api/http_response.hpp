#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace priava_tokend {

/// A response ready for the wire: either bytes shared between many requests (the token
/// answer, rebuilt once per second) or bytes made for this one.
struct response {
    unsigned status = 200;
    std::shared_ptr<const std::string> shared;
    std::string own;
    bool close = false; ///< close the connection after writing

    std::string_view bytes() const noexcept { return shared ? std::string_view{*shared} : own; }
};

std::string_view reason_phrase(unsigned status) noexcept;

/// A complete HTTP/1.1 response with `Content-Type`, `Cache-Control: no-store` and
/// `Content-Length`. `extra_headers` are whole lines ending in CRLF (`Retry-After: 5\r\n`).
std::string render_response(unsigned status, std::string_view content_type, std::string_view body,
                            std::string_view extra_headers = {}, bool close = false);

/// `{"error":"...","error_description":"..."}`, JSON-escaped.
std::string error_body(std::string_view error, std::string_view description);

/// The same response announcing `Connection: close`.
response closing(response r);

/// A JSON error response with the given extra header lines.
response error_response(unsigned status, std::string_view error, std::string_view description,
                        std::string_view extra_headers = {}, bool close = false);

} // namespace priava_tokend
