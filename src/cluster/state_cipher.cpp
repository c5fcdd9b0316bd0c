#include <priava_tokend/cluster/state_cipher.hpp>
#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/core/base64.hpp>
#include <priava_tokend/core/environment.hpp>
#include <priava_tokend/core/sha256.hpp>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>

namespace priava_tokend {
namespace {

constexpr std::size_t id_digits = 8;

struct cipher_ctx_free {
    void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

const unsigned char* bytes(std::string_view text) noexcept {
    return reinterpret_cast<const unsigned char*>(text.data());
}

unsigned char* bytes(std::string& text) noexcept {
    return reinterpret_cast<unsigned char*>(text.data());
}

int int_size(std::string_view text) {
    if (text.size() > static_cast<std::size_t>(INT_MAX)) {
        throw std::length_error("state_cipher: input larger than 2 GiB");
    }
    return static_cast<int>(text.size());
}

// Failures other than a tag mismatch are bugs or an exhausted process, not bad input.
void check(int rc, const char* what) {
    if (rc != 1) {
        ERR_clear_error();
        throw std::runtime_error(std::string("state_cipher: ") + what + " failed");
    }
}

cipher_ctx begin(bool encrypt, const secret& key, const unsigned char* nonce) {
    cipher_ctx ctx{EVP_CIPHER_CTX_new()};
    if (!ctx) {
        throw std::runtime_error("state_cipher: EVP_CIPHER_CTX_new failed");
    }
    check(EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt),
          "EVP_CipherInit_ex");
    check(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN,
                              static_cast<int>(state_cipher::nonce_size), nullptr),
          "EVP_CTRL_GCM_SET_IVLEN");
    check(EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, bytes(key.reveal()), nonce, encrypt),
          "EVP_CipherInit_ex with key and nonce");
    return ctx;
}

void add_associated(EVP_CIPHER_CTX* ctx, std::string_view associated) {
    int ignored = 0;
    if (!associated.empty()) {
        check(EVP_CipherUpdate(ctx, nullptr, &ignored, bytes(associated), int_size(associated)),
              "EVP_CipherUpdate of the associated data");
    }
}

/// The key in a `secret` from the first moment it is bytes; empty text is not a key.
std::optional<secret> key_from_base64(std::string_view text) {
    auto bytes = text.empty() ? std::nullopt : decode_base64(text);
    if (!bytes) {
        return std::nullopt;
    }
    return secret{std::move(*bytes)};
}

} // namespace

outcome<state_cipher> state_cipher::from_key_file(const std::string& path) {
    const std::string name = "the encryption key file (cluster.encryption_key_file)";
    auto text = read_secret_file(path, name, true, environment::from_process());
    if (!text) {
        return text.error();
    }
    auto key = key_from_base64(text->reveal());
    if (!key) {
        return make_failure(errc::file_unreadable,
                            name + " is not base64; it must hold 32 random bytes in base64 "
                                   "(openssl rand -base64 32)");
    }
    if (key->reveal().size() != key_size) {
        return make_failure(errc::file_unreadable,
                            name + " decodes to " + std::to_string(key->reveal().size()) +
                                " bytes instead of 32 (openssl rand -base64 32)");
    }
    return state_cipher{std::move(*key)};
}

state_cipher::state_cipher(secret key)
    : key_(std::move(key)) {
    if (key_.reveal().size() != key_size) {
        throw std::invalid_argument("state_cipher: the key is " +
                                    std::to_string(key_.reveal().size()) + " bytes instead of 32");
    }
    key_id_ = sha256_hex(key_.reveal()).substr(0, id_digits);
}

std::string state_cipher::seal(std::string_view plaintext, std::string_view associated) const {
    std::string out(nonce_size + plaintext.size() + tag_size, '\0');
    unsigned char* const nonce = bytes(out);
    unsigned char* const body = nonce + nonce_size;
    check(RAND_bytes(nonce, static_cast<int>(nonce_size)), "RAND_bytes for the nonce");
    const auto ctx = begin(true, key_, nonce);
    add_associated(ctx.get(), associated);
    int written = 0;
    if (!plaintext.empty()) {
        check(EVP_EncryptUpdate(ctx.get(), body, &written, bytes(plaintext), int_size(plaintext)),
              "EVP_EncryptUpdate");
    }
    check(EVP_EncryptFinal_ex(ctx.get(), body + written, &written), "EVP_EncryptFinal_ex");
    check(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                              body + plaintext.size()),
          "EVP_CTRL_GCM_GET_TAG");
    return out;
}

outcome<secret> state_cipher::open(std::string_view sealed, std::string_view associated) const {
    if (sealed.size() < nonce_size + tag_size) {
        return make_failure(errc::state_corrupt,
                            "the shared state is too short to be encrypted data: " +
                                std::to_string(sealed.size()) + " bytes, less than the " +
                                std::to_string(nonce_size + tag_size) + " of nonce and tag");
    }
    const std::string_view ciphertext =
        sealed.substr(nonce_size, sealed.size() - nonce_size - tag_size);
    unsigned char tag[tag_size];
    std::memcpy(tag, sealed.data() + sealed.size() - tag_size, tag_size);
    const auto ctx = begin(false, key_, bytes(sealed));
    check(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag),
          "EVP_CTRL_GCM_SET_TAG");
    add_associated(ctx.get(), associated);
    // Unauthenticated until EVP_DecryptFinal_ex says otherwise; wiped if it does not.
    std::string plain(ciphertext.size(), '\0');
    int written = 0;
    if (!ciphertext.empty()) {
        check(EVP_DecryptUpdate(ctx.get(), bytes(plain), &written, bytes(ciphertext),
                                int_size(ciphertext)),
              "EVP_DecryptUpdate");
    }
    if (EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + written, &written) != 1) {
        wipe(plain);
        ERR_clear_error();
        return make_failure(errc::state_corrupt,
                            "the shared state does not decrypt with this encryption_key_file (a "
                            "different key on this node, or the data was altered)");
    }
    return secret{std::move(plain)};
}

} // namespace priava_tokend
