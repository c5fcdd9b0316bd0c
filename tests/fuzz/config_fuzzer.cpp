// libFuzzer target: any text as the TOML configuration file.
#include <priava_tokend/config/config.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace priava_tokend;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto loaded = parse_config(text, "fuzz.toml", environment{});
    for (const auto& p : loaded.problems) {
        if (p.key.empty() || p.message.empty()) {
            __builtin_trap(); // every problem names its key and what is wrong
        }
    }
    return 0;
}
