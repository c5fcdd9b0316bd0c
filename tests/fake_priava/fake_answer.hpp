#pragma once

#include "fake_priava_server.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace priava_tokend::testing {

/// A reply of the fake and what its log line says about it (an error code or a fault; never a
/// secret).
struct fake_answer {
    server_reply reply;
    std::string note;
};

/// A whole reply with the fake's `Server` and `Cache-Control: no-store`, keep-alive as asked.
fake_answer make_answer(const http_request& req, boost::beast::http::status status,
                        std::string_view content_type, std::string body, std::string note = {});

fake_answer json_answer(const http_request& req, unsigned status, const boost::json::object& body,
                        std::string note = {});

/// Priava's error shape, `{"error","error_description"}`; the note is the error.
fake_answer error_answer(const http_request& req, unsigned status, std::string_view error,
                         std::string_view description);

/// Priava's 429: `{"error","limits","retry-after"}`, the retry time a UTC date without a zone
/// (Priava's rate-limit documentation) rounded up to the second, and no `Retry-After` header.
fake_answer rate_limit_answer(const http_request& req, std::chrono::system_clock::time_point until,
                              unsigned limit, std::chrono::milliseconds window);

} // namespace priava_tokend::testing
