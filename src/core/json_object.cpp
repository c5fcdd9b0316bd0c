#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/core/wiping_memory_resource.hpp>

#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>

namespace priava_tokend {

namespace json = boost::json;

std::optional<json::object> parse_json_object(std::string_view text) {
    // The parser's own buffers and the value both live in memory wiped when freed: the text may
    // hold tokens (wiping_memory_resource).
    const json::storage_ptr wiped(&wiping_memory_resource::instance());
    json::parser parser(wiped);
    parser.reset(wiped);
    boost::system::error_code ec;
    parser.write(text, ec);
    if (ec) {
        return std::nullopt;
    }
    json::value v = parser.release();
    if (!v.is_object()) {
        return std::nullopt;
    }
    return std::move(v.get_object());
}

const json::string* string_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v != nullptr ? v->if_string() : nullptr;
}

std::optional<std::int64_t> int64_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr || !v->is_int64()) {
        return std::nullopt;
    }
    return v->get_int64();
}

std::optional<bool> bool_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr || !v->is_bool()) {
        return std::nullopt;
    }
    return v->get_bool();
}

const json::object* object_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v != nullptr ? v->if_object() : nullptr;
}

} // namespace priava_tokend
