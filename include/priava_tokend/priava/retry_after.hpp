#pragma once

#include <priava_tokend/core/timestamp.hpp>

#include <optional>
#include <string_view>

namespace priava_tokend {

/// When Priava's 429 says sending may resume: the body's `retry-after` field (also spelled
/// `retry_after` or `retryAfter`), a date without a zone read as UTC; else the `Retry-After`
/// header's whole seconds from `now`. Nothing when neither can be read. Unclamped: the caller
/// bounds it. For the token endpoint and, with the proxy, for every call to Priava.
std::optional<wall_time> priava_retry_after(std::string_view body, std::string_view header,
                                            wall_time now);

} // namespace priava_tokend
