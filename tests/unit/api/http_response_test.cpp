#include <priava_tokend/api/http_response.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

TEST(HttpResponse, CarriesNoStoreAndLength) {
    EXPECT_EQ(render_response(200, "application/json", "{}"),
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
              "Content-Length: 2\r\n\r\n{}");
}

TEST(HttpResponse, ErrorBodyIsEscapedJson) {
    EXPECT_EQ(error_body("bad", "a \"quoted\"\nline"),
              R"({"error":"bad","error_description":"a \"quoted\"\nline"})");
}

TEST(HttpResponse, ErrorResponseKeepsStatusAndExtraHeaders) {
    const auto r = error_response(405, "method_not_allowed", "no", "Allow: GET\r\n");
    EXPECT_EQ(r.status, 405u);
    EXPECT_NE(r.bytes().find("\r\nAllow: GET\r\n"), std::string_view::npos);
    EXPECT_EQ(r.bytes().find("Connection: close"), std::string_view::npos);
}

TEST(HttpResponse, ClosingAnnouncesItOnce) {
    response shared;
    shared.shared = std::make_shared<const std::string>(render_response(200, "text/plain", "x"));
    const auto closed = closing(shared);
    EXPECT_TRUE(closed.close);
    EXPECT_NE(closed.bytes().find("Connection: close\r\n\r\nx"), std::string_view::npos);
    const auto again = closing(closed);
    EXPECT_EQ(again.bytes(), closed.bytes());
    EXPECT_EQ(*shared.shared, render_response(200, "text/plain", "x")) << "shared bytes untouched";
}

} // namespace
} // namespace priava_tokend
