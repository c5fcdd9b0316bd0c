#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/priava/retry_after.hpp>

#include <boost/json/value.hpp>

#include <cstdint>

namespace priava_tokend {

std::optional<wall_time> priava_retry_after(std::string_view body, std::string_view header,
                                            wall_time now) {
    if (const auto obj = parse_json_object(body)) {
        for (const char* name : {"retry-after", "retry_after", "retryAfter"}) {
            if (const auto* v = string_field(*obj, name)) {
                if (auto t = parse_priava_retry_after(*v)) {
                    return t;
                }
            }
        }
    }
    if (const auto delay = parse_number<std::uint32_t>(header)) {
        return now + std::chrono::seconds{*delay};
    }
    return std::nullopt;
}

} // namespace priava_tokend
