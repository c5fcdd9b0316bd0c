#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace priava_tokend {

/// Parses `text` as one JSON object; nothing for invalid JSON or any other JSON value.
std::optional<boost::json::object> parse_json_object(std::string_view text);

/// A field of `o` of the given type; nothing (or null) when it is absent or of another type.
const boost::json::string* string_field(const boost::json::object& o, std::string_view name);
std::optional<std::int64_t> int64_field(const boost::json::object& o, std::string_view name);
std::optional<bool> bool_field(const boost::json::object& o, std::string_view name);
const boost::json::object* object_field(const boost::json::object& o, std::string_view name);

} // namespace priava_tokend
