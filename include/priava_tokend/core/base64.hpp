#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

/// Standard base64 (RFC 4648 §4) with padding, as etcd's JSON gateway and key files use it.
std::string encode_base64(std::string_view bytes);

/// The bytes, or nothing when `text` is not padded standard base64 (no whitespace inside).
std::optional<std::string> decode_base64(std::string_view text);

} // namespace priava_tokend
