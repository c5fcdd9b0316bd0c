#pragma once

#include <priava_tokend/core/error.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace priava_tokend {

/// Encodes a value for an `application/x-www-form-urlencoded` body as RFC 6749 appendix B
/// requires: ALPHA, DIGIT and `*-._` stay, space becomes `+`, every other byte becomes `%XX`
/// (upper-case hex). So `+ / = : ?` in codes and tokens arrive intact.
std::string form_urlencode(std::string_view value);

/// Appends `name=value` (both encoded) to `body`, with a leading `&` unless `body` is empty.
void append_form_field(std::string& body, std::string_view name, std::string_view value);

using form_fields = std::vector<std::pair<std::string, std::string>>;

/// Decodes a form body strictly: only the characters `form_urlencode` emits are accepted, `%`
/// must be followed by two hex digits, and every field must have a `=`. The failure names the
/// offending position, never the data.
outcome<form_fields> parse_form(std::string_view body);

} // namespace priava_tokend
