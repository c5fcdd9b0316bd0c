// libFuzzer target: whatever Priava's token endpoint might answer. The first byte picks the
// status; up to the first newline after it is the Retry-After header; the rest is the body.
#include <priava_tokend/priava/token_response.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace priava_tokend;
    static constexpr std::array<unsigned, 8> statuses{200, 400, 401, 429, 500, 502, 503, 404};
    if (size == 0) {
        return 0;
    }
    const unsigned status = statuses[data[0] % statuses.size()];
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const auto newline = rest.find('\n');
    const std::string_view header = rest.substr(0, std::min(newline, rest.size()));
    const std::string_view body = newline == std::string_view::npos ? "" : rest.substr(newline + 1);
    const auto outcome =
        classify_token_response(status, body, header, std::chrono::system_clock::now());
    if (const auto* t = std::get_if<token_set>(&outcome)) {
        // A token set must be servable: printable, non-empty, a positive lifetime.
        if (t->access_token.empty() || !is_token_text(t->access_token.reveal()) ||
            t->expires_in.count() <= 0) {
            __builtin_trap();
        }
    }
    return 0;
}
