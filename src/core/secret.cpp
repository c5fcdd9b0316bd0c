#include <priava_tokend/core/secret.hpp>

#include <openssl/crypto.h>

namespace priava_tokend {

secret& secret::operator=(const secret& other) {
    if (this != &other) {
        wipe();
        value_ = other.value_;
    }
    return *this;
}

secret& secret::operator=(secret&& other) noexcept {
    if (this != &other) {
        wipe();
        value_ = std::move(other.value_);
        other.wipe();
    }
    return *this;
}

void wipe(std::string& text) noexcept {
    // Cleanse the whole capacity: a moved-from or shrunk string may still hold old bytes.
    if (text.capacity() > 0) {
        text.resize(text.capacity());
        OPENSSL_cleanse(text.data(), text.size());
    }
    text.clear();
}

void secret::wipe() noexcept {
    priava_tokend::wipe(value_);
}

bool operator==(const secret& a, const secret& b) noexcept {
    return a.value_.size() == b.value_.size() &&
           CRYPTO_memcmp(a.value_.data(), b.value_.data(), a.value_.size()) == 0;
}

std::string redact(std::string text, std::initializer_list<const secret*> secrets) {
    constexpr std::string_view marker = "[redacted]";
    for (const secret* s : secrets) {
        if (s == nullptr || s->empty()) {
            continue;
        }
        const std::string_view needle = s->reveal();
        for (auto pos = text.find(needle); pos != std::string::npos;
             pos = text.find(needle, pos + marker.size())) {
            text.replace(pos, needle.size(), marker);
        }
    }
    return text;
}

} // namespace priava_tokend
