#include <priava_tokend/api/request_parser.hpp>

namespace priava_tokend {

request_parser::request_parser(request_head& into)
    : head_(into) {
    header_limit(largest_head);
    body_limit(largest_body);
    head_.method = verb::unknown;
    head_.target.clear();
    head_.content_type.clear();
    head_.body.clear();
}

void request_parser::on_request_impl(verb method, string_view, string_view target, int version,
                                     error_code&) {
    head_.method = method;
    head_.version = static_cast<unsigned>(version);
    head_.target.assign(target.data(), target.size());
}

void request_parser::on_field_impl(field name, string_view, string_view value, error_code&) {
    if (name == field::content_type) {
        head_.content_type.assign(value.data(), value.size());
    }
}

std::size_t request_parser::on_body_impl(string_view body, error_code&) {
    head_.body.append(body.data(), body.size());
    return body.size();
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    head_.body.append(body.data(), body.size());
    return body.size();
}

} // namespace priava_tokend
