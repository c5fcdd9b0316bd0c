#include <priava_tokend/proxy/forwarded_headers.hpp>

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;
using header_list = std::vector<std::pair<std::string, std::string>>;

http::fields fields_of(const header_list& headers) {
    http::fields f;
    for (const auto& [name, value] : headers) {
        f.insert(name, value);
    }
    return f;
}

header_list list_of(const http::fields& f) {
    header_list out;
    for (const auto& field : f) {
        out.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return out;
}

/// The lines `append_request_headers` writes, split back into names and values.
header_list forwarded_request(const header_list& from) {
    std::string text;
    append_request_headers(fields_of(from), text);
    header_list out;
    for (std::size_t at = 0; at < text.size();) {
        const auto end = text.find("\r\n", at);
        const auto colon = text.find(": ", at);
        EXPECT_NE(end, std::string::npos);
        EXPECT_LT(colon, end);
        out.emplace_back(text.substr(at, colon - at), text.substr(colon + 2, end - colon - 2));
        at = end + 2;
    }
    return out;
}

header_list forwarded_response(const header_list& from) {
    http::fields to;
    copy_response_headers(fields_of(from), to);
    return list_of(to);
}

TEST(ForwardedHeaders, EndToEndRequestHeadersPassInTheAppsOrder) {
    // Fields of one name stay in their order (RFC 9110 §5.3); Beast keeps them together.
    EXPECT_EQ(forwarded_request({{"Accept", "application/json"},
                                 {"Content-Type", "application/json; charset=utf-8"},
                                 {"X-Request-Id", "42"},
                                 {"Accept", "text/plain"},
                                 {"If-None-Match", "\"abc\""}}),
              (header_list{{"Accept", "application/json"},
                           {"Accept", "text/plain"},
                           {"Content-Type", "application/json; charset=utf-8"},
                           {"X-Request-Id", "42"},
                           {"If-None-Match", "\"abc\""}}));
}

TEST(ForwardedHeaders, TheAppsCredentialsRegionAndFramingAreDropped) {
    EXPECT_EQ(forwarded_request({{"Authorization", "Bearer stolen"},
                                 {"authorization", "Basic x"},
                                 {"TenantRegion", "EU"},
                                 {"tenantregion", "US"},
                                 {"Host", "evil.example"},
                                 {"Content-Length", "5"},
                                 {"Expect", "100-continue"},
                                 {"Accept", "*/*"}}),
              (header_list{{"Accept", "*/*"}}));
}

TEST(ForwardedHeaders, HopByHopHeadersAndThoseConnectionNamesAreDropped) {
    EXPECT_EQ(forwarded_request({{"Connection", "keep-alive, X-Secret-Hop ,x-other"},
                                 {"Keep-Alive", "timeout=5"},
                                 {"Proxy-Connection", "keep-alive"},
                                 {"Proxy-Authorization", "Basic x"},
                                 {"TE", "trailers"},
                                 {"Trailer", "X-Sum"},
                                 {"Transfer-Encoding", "chunked"},
                                 {"Upgrade", "websocket"},
                                 {"X-Secret-Hop", "1"},
                                 {"X-Other", "2"},
                                 {"X-Kept", "3"}}),
              (header_list{{"X-Kept", "3"}}));
}

TEST(ForwardedHeaders, TheDaemonsOwnHeadersStayWithTheDaemon) {
    EXPECT_EQ(forwarded_request({{"Priava-Tokend-Auth", "secret"},
                                 {"priava-tokend-client", "app"},
                                 {"Priava-Tokenless", "kept"}}),
              (header_list{{"Priava-Tokenless", "kept"}}));
}

TEST(ForwardedHeaders, ResponseHeadersLoseOnlyHopByHopAndFraming) {
    EXPECT_EQ(forwarded_response({{"Content-Type", "application/json"},
                                  {"Connection", "close, X-Hop"},
                                  {"X-Hop", "1"},
                                  {"Transfer-Encoding", "chunked"},
                                  {"Content-Length", "10"},
                                  {"Set-Cookie", "a=b"},
                                  {"WWW-Authenticate", "Bearer error=\"invalid_token\""},
                                  {"Retry-After", "30"}}),
              (header_list{{"Content-Type", "application/json"},
                           {"Set-Cookie", "a=b"},
                           {"WWW-Authenticate", "Bearer error=\"invalid_token\""},
                           {"Retry-After", "30"}}));
}

} // namespace
} // namespace priava_tokend
