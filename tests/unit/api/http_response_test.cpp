#include <priava_tokend/api/http_response.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

TEST(HttpResponse, CarriesNoStoreAndLength) {
    auto r = make_response(200, "application/json", "{}");
    EXPECT_EQ(serialize(r.message()),
              "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
              "Content-Length: 2\r\n\r\n{}");
}

TEST(HttpResponse, ErrorBodyIsEscapedJson) {
    EXPECT_EQ(error_body("bad", "a \"quoted\"\nline"),
              R"({"error":"bad","error_description":"a \"quoted\"\nline"})");
}

TEST(HttpResponse, ErrorResponseKeepsItsStatusAndJson) {
    auto r = error_response(405, "method_not_allowed", "no");
    EXPECT_EQ(r.status(), 405u);
    const auto bytes = serialize(r.message());
    EXPECT_NE(bytes.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
    EXPECT_EQ(bytes.find("Connection: close"), std::string::npos);
}

TEST(HttpResponse, APreparedAnswerHasAKeepAliveAndAClosingForm) {
    auto r = make_response(200, "text/plain", "x");
    const auto p = prepare(std::move(r.message()));
    EXPECT_EQ(p->status, 200u);
    EXPECT_EQ(p->keep_alive.find("Connection:"), std::string::npos);
    EXPECT_NE(p->closing.find("\r\nConnection: close\r\n"), std::string::npos);
    EXPECT_TRUE(p->keep_alive.ends_with("\r\n\r\nx"));
    EXPECT_TRUE(p->closing.ends_with("\r\n\r\nx"));
}

} // namespace
} // namespace priava_tokend
