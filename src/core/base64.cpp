#include <priava_tokend/core/base64.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

namespace priava_tokend {
namespace {

bool is_base64_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

} // namespace

std::string encode_base64(std::string_view in) {
    std::string out(4 * ((in.size() + 2) / 3), '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(in),
                                  static_cast<int>(in.size()));
    out.resize(static_cast<std::size_t>(std::max(n, 0)));
    return out;
}

// EVP_DecodeBlock takes '=' anywhere and counts padding as zero bytes, so the shape is checked
// here and the padding taken off its result.
std::optional<std::string> decode_base64(std::string_view text) {
    if (text.size() % 4 != 0) {
        return std::nullopt;
    }
    const std::size_t pad = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
    const std::string_view data = text.substr(0, text.size() - pad);
    if (!std::all_of(data.begin(), data.end(), is_base64_char)) {
        return std::nullopt;
    }
    std::string out(3 * (text.size() / 4), '\0');
    if (EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes(text),
                        static_cast<int>(text.size())) < 0) {
        OPENSSL_cleanse(out.data(), out.size()); // it may be part of a key
        return std::nullopt;
    }
    out.resize(out.size() - pad);
    return out;
}

} // namespace priava_tokend
