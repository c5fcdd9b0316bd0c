#include <priava_tokend/api/http_response.hpp>

#include <boost/beast/http/serializer.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace priava_tokend {

namespace http = boost::beast::http;

response make_response(unsigned status, std::string_view content_type, std::string body) {
    http_message m;
    m.result(status);
    m.set(http::field::content_type, content_type);
    m.set(http::field::cache_control, "no-store");
    m.body() = std::move(body);
    m.prepare_payload();
    return response(std::move(m));
}

std::string error_body(std::string_view error, std::string_view description) {
    boost::json::object o;
    o["error"] = error;
    o["error_description"] = description;
    return boost::json::serialize(o);
}

response error_response(unsigned status, std::string_view error, std::string_view description) {
    return make_response(status, "application/json", error_body(error, description));
}

std::string serialize(http_message& message) {
    std::string out;
    http::serializer<false, http::string_body> sr{message};
    boost::system::error_code ec;
    while (!ec && !sr.is_done()) {
        sr.next(ec, [&](boost::system::error_code&, const auto& buffers) {
            std::size_t n = 0;
            for (const auto b : buffers) {
                out.append(static_cast<const char*>(b.data()), b.size());
                n += b.size();
            }
            sr.consume(n);
        });
    }
    return out;
}

std::string_view response::wire(bool keep_alive) {
    if (prepared_) {
        return keep_alive ? prepared_->keep_alive : prepared_->closing;
    }
    message_->keep_alive(keep_alive);
    serialized_ = serialize(*message_);
    return serialized_;
}

std::shared_ptr<const prepared_answer> prepare(http_message message) {
    auto p = std::make_shared<prepared_answer>();
    p->status = message.result_int();
    message.keep_alive(true);
    p->keep_alive = serialize(message);
    message.keep_alive(false);
    p->closing = serialize(message);
    return p;
}

} // namespace priava_tokend
