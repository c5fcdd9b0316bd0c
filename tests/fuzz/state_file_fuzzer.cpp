// libFuzzer target: any bytes as the state file; a file that decodes must encode to one that
// decodes to the same tokens.
#include <priava_tokend/keeper/credential_fingerprint.hpp>
#include <priava_tokend/keeper/state_codec.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace priava_tokend;
    static const std::string fingerprint =
        credential_fingerprint({"https://api.priava.com/api/rest/oauth/token",
                                region::apac,
                                "client",
                                {},
                                "https://cb",
                                {}});
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto decoded = decode_state(text, fingerprint);
    if (decoded) {
        const secret again = encode_state(*decoded, fingerprint);
        const auto round = decode_state(again.reveal(), fingerprint);
        if (!round || !(round->refresh_token == decoded->refresh_token) ||
            round->generation != decoded->generation) {
            __builtin_trap();
        }
    }
    return 0;
}
