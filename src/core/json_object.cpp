#include <priava_tokend/core/json_object.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace priava_tokend {

namespace json = boost::json;

std::optional<json::object> parse_json_object(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) {
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
