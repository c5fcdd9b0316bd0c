#include <priava_tokend/api/relay_framing.hpp>
#include <priava_tokend/proxy/forwarded_headers.hpp>

#include <boost/beast/http/status.hpp>

#include <charconv>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view crlf = "\r\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";

} // namespace

std::string response_head_text(unsigned version, unsigned status, std::string_view reason,
                               const http::fields& priava, std::optional<std::uint64_t> length,
                               bool chunked, bool keep_alive) {
    std::string head;
    head.reserve(512);
    head.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    head.append(std::to_string(status));
    head.append(" ");
    head.append(reason.empty()
                    ? std::string_view(http::obsolete_reason(http::int_to_status(status)))
                    : reason);
    head.append(crlf);
    append_response_headers(priava, head);
    if (length) {
        head.append("Content-Length: ");
        head.append(std::to_string(*length));
        head.append(crlf);
    } else if (chunked) {
        head.append("Transfer-Encoding: chunked\r\n");
    }
    if (version == 10 && keep_alive) {
        head.append("Connection: keep-alive\r\n");
    } else if (version != 10 && !keep_alive) {
        head.append("Connection: close\r\n");
    }
    return head;
}

framed_piece::framed_piece(relay_framing framing, std::string_view head, std::string_view piece,
                           bool last) {
    std::size_t n = 0;
    buffers_[n++] = boost::asio::buffer(head.data(), head.size());
    if (framing == relay_framing::chunked && !piece.empty()) {
        char* end = std::to_chars(size_line_.data(), size_line_.data() + 16, piece.size(), 16).ptr;
        *end++ = '\r';
        *end++ = '\n';
        buffers_[n++] = boost::asio::buffer(size_line_.data(),
                                            static_cast<std::size_t>(end - size_line_.data()));
        buffers_[n++] = boost::asio::buffer(piece.data(), piece.size());
        buffers_[n++] = boost::asio::buffer(crlf.data(), crlf.size());
    } else {
        buffers_[n++] = boost::asio::buffer(piece.data(), piece.size());
    }
    if (framing == relay_framing::chunked && last) {
        buffers_[n++] = boost::asio::buffer(last_chunk.data(), last_chunk.size());
    }
}

} // namespace priava_tokend
