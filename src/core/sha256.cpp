#include <priava_tokend/core/sha256.hpp>

#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

namespace priava_tokend {

std::string sha256_hex(std::string_view text) {
    // OpenSSL's low-level SHA-256 (deprecated in 3.0, still supported) rather than EVP: EVP
    // loads and initialises the provider machinery, 2 MB of resident memory and milliseconds of
    // start-up the daemon otherwise needs only when it talks TLS to Priava.
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, text.data(), text.size());
    SHA256_Final(digest, &ctx);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * SHA256_DIGEST_LENGTH);
    for (const unsigned char byte : digest) {
        out.push_back(hex[byte >> 4]);
        out.push_back(hex[byte & 0x0F]);
    }
    return out;
}

} // namespace priava_tokend
