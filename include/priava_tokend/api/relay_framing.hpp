#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/fields.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

/// How the proxy frames a relayed body for the app.
enum class relay_framing {
    none,        ///< no body (HEAD, 204, 304), or its length is in the head
    length,      ///< `Content-Length` from Priava, the bytes as they come
    chunked,     ///< Priava's length unknown: chunked to the app
    until_close, ///< the same for an HTTP/1.0 app: the close ends the body
};

/// The status line and Priava's end-to-end headers (`append_response_headers`) as the app gets
/// them, with `Content-Length: length` when given, or `Transfer-Encoding: chunked`, and
/// `Connection: close` (HTTP/1.1) or `keep-alive` (HTTP/1.0) as asked; not yet ended by the
/// blank line, so that more headers can follow.
std::string response_head_text(unsigned version, unsigned status, std::string_view reason,
                               const boost::beast::http::fields& priava,
                               std::optional<std::uint64_t> length, bool chunked, bool keep_alive);

/// One write to the app: the head (before the first piece, else empty), then `piece` framed as
/// `framing` asks, then the chunked body's end after the last piece.
class framed_piece {
  public:
    framed_piece(relay_framing framing, std::string_view head, std::string_view piece, bool last);

    /// Valid while this object and the texts it was given live.
    const std::array<boost::asio::const_buffer, 5>& buffers() const noexcept { return buffers_; }

  private:
    std::array<char, 24> size_line_{};
    std::array<boost::asio::const_buffer, 5> buffers_{};
};

} // namespace priava_tokend
