#include "fake_answer.hpp"

#include <priava_tokend/core/timestamp.hpp>

#include <boost/json/serialize.hpp>

namespace priava_tokend::testing {

namespace http = boost::beast::http;

fake_answer make_answer(const http_request& req, http::status status, std::string_view content_type,
                        std::string body, std::string note) {
    http_response res{status, req.version()};
    res.set(http::field::server, "fake-priava");
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return {{std::move(res), delivery::whole}, std::move(note)};
}

fake_answer json_answer(const http_request& req, unsigned status, const boost::json::object& body,
                        std::string note) {
    return make_answer(req, static_cast<http::status>(status), "application/json",
                       boost::json::serialize(body), std::move(note));
}

fake_answer error_answer(const http_request& req, unsigned status, std::string_view error,
                         std::string_view description) {
    return json_answer(req, status, {{"error", error}, {"error_description", description}},
                       std::string(error));
}

fake_answer rate_limit_answer(const http_request& req, std::chrono::system_clock::time_point until,
                              unsigned limit, std::chrono::milliseconds window) {
    std::string when = format_rfc3339(std::chrono::ceil<std::chrono::seconds>(until));
    when.pop_back(); // the 'Z'
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(window).count();
    return json_answer(req, 429,
                       {{"error", "rate_limit_exceeded"},
                        {"limits", std::to_string(limit) + " requests per " +
                                       std::to_string(seconds) + " seconds"},
                        {"retry-after", when}},
                       "rate_limit_exceeded");
}

} // namespace priava_tokend::testing
