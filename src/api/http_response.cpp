#include <priava_tokend/api/http_response.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace priava_tokend {

std::string_view reason_phrase(unsigned status) noexcept {
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    }
    return "Unknown";
}

std::string render_response(unsigned status, std::string_view content_type, std::string_view body,
                            std::string_view extra_headers, bool close) {
    std::string out;
    out.reserve(160 + extra_headers.size() + body.size());
    out += "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason_phrase(status);
    out += "\r\nContent-Type: ";
    out += content_type;
    out += "\r\nCache-Control: no-store\r\nContent-Length: ";
    out += std::to_string(body.size());
    out += "\r\n";
    out += extra_headers;
    if (close) {
        out += "Connection: close\r\n";
    }
    out += "\r\n";
    out += body;
    return out;
}

std::string error_body(std::string_view error, std::string_view description) {
    boost::json::object o;
    o["error"] = error;
    o["error_description"] = description;
    return boost::json::serialize(o);
}

response error_response(unsigned status, std::string_view error, std::string_view description,
                        std::string_view extra_headers, bool close) {
    response r;
    r.status = status;
    r.close = close;
    r.own = render_response(status, "application/json", error_body(error, description),
                            extra_headers, close);
    return r;
}

} // namespace priava_tokend

namespace priava_tokend {

response closing(response r) {
    std::string bytes(r.bytes());
    const auto end_of_head = bytes.find("\r\n\r\n");
    const auto announced = bytes.find("\r\nConnection: close\r\n");
    if (end_of_head != std::string::npos &&
        (announced == std::string::npos || announced >= end_of_head)) {
        bytes.insert(end_of_head + 2, "Connection: close\r\n");
    }
    r.shared.reset();
    r.own = std::move(bytes);
    r.close = true;
    return r;
}

} // namespace priava_tokend
