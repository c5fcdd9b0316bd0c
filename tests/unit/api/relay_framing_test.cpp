#include <priava_tokend/api/relay_framing.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;

std::string joined(const framed_piece& f) {
    std::string out;
    for (const auto& b : f.buffers()) {
        out.append(static_cast<const char*>(b.data()), b.size());
    }
    return out;
}

http::fields priava_headers() {
    http::fields f;
    f.insert("Content-Type", "application/json");
    f.insert("Content-Length", "27");
    f.insert("Connection", "keep-alive, X-Hop");
    f.insert("X-Hop", "1");
    f.insert("X-Request-Id", "abc");
    return f;
}

TEST(RelayFraming, TheHeadKeepsPriavasEndToEndHeadersAndSetsItsOwnFraming) {
    EXPECT_EQ(response_head_text(11, 200, "OK", priava_headers(), 27, false, true),
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: abc\r\n"
              "Content-Length: 27\r\n");
    EXPECT_EQ(response_head_text(11, 404, "", {}, std::nullopt, true, false),
              "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n");
    EXPECT_EQ(response_head_text(10, 200, "OK", {}, std::nullopt, false, false),
              "HTTP/1.0 200 OK\r\n");
}

TEST(RelayFraming, APieceGoesWithTheHeadAndChunksAreFramed) {
    EXPECT_EQ(joined(framed_piece(relay_framing::length, "HEAD\r\n\r\n", "body", true)),
              "HEAD\r\n\r\nbody");
    EXPECT_EQ(
        joined(framed_piece(relay_framing::chunked, "H\r\n\r\n", std::string(26, 'x'), false)),
        "H\r\n\r\n1a\r\n" + std::string(26, 'x') + "\r\n");
    EXPECT_EQ(joined(framed_piece(relay_framing::chunked, "", "ab", true)), "2\r\nab\r\n0\r\n\r\n");
    EXPECT_EQ(joined(framed_piece(relay_framing::chunked, "", "", true)), "0\r\n\r\n")
        << "the end alone";
    EXPECT_EQ(joined(framed_piece(relay_framing::until_close, "", "raw", false)), "raw");
}

} // namespace
} // namespace priava_tokend
