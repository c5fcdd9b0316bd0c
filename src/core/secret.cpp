#include <priava_tokend/core/secret.hpp>

#include <openssl/crypto.h>

#include <unordered_set>
#include <utility>
#include <vector>

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

namespace {

/// The shortest piece of a secret that is redacted wherever it appears; a shorter secret is
/// redacted only whole.
constexpr std::size_t smallest_piece = 8;

/// A view of outside text with what an encoder may have done to it undone, and for each of its
/// characters where it came from in the original.
struct decoded_text {
    std::string text;
    std::vector<std::pair<std::size_t, std::size_t>> origin; ///< [first, last) in the original
};

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// `%XX` (either case) decoded, and with `plus_is_space` `+` as a space (form encoding).
decoded_text percent_decoded(std::string_view text, bool plus_is_space) {
    decoded_text d;
    for (std::size_t i = 0; i < text.size();) {
        const int high = i + 2 < text.size() && text[i] == '%' ? hex_value(text[i + 1]) : -1;
        const int low = high >= 0 ? hex_value(text[i + 2]) : -1;
        if (low >= 0) {
            d.text.push_back(static_cast<char>(high * 16 + low));
            d.origin.emplace_back(i, i + 3);
            i += 3;
            continue;
        }
        d.text.push_back(plus_is_space && text[i] == '+' ? ' ' : text[i]);
        d.origin.emplace_back(i, i + 1);
        ++i;
    }
    return d;
}

/// Marks in `hit` (indexed by the original text) every place where `haystack` holds `needle`
/// whole or, for a needle of at least `smallest_piece` characters, any piece of it that long.
void mark(const decoded_text& haystack, std::string_view needle, std::vector<bool>& hit) {
    const auto mark_span = [&](std::size_t first, std::size_t count) {
        for (std::size_t k = first; k < first + count; ++k) {
            for (auto o = haystack.origin[k].first; o < haystack.origin[k].second; ++o) {
                hit[o] = true;
            }
        }
    };
    const std::string_view h = haystack.text;
    if (needle.size() < smallest_piece) {
        for (auto pos = h.find(needle); pos != std::string_view::npos;
             pos = h.find(needle, pos + 1)) {
            mark_span(pos, needle.size());
        }
        return;
    }
    std::unordered_set<std::string_view> pieces;
    for (std::size_t i = 0; i + smallest_piece <= needle.size(); ++i) {
        pieces.insert(needle.substr(i, smallest_piece));
    }
    for (std::size_t i = 0; i + smallest_piece <= h.size(); ++i) {
        if (pieces.contains(h.substr(i, smallest_piece))) {
            mark_span(i, smallest_piece);
        }
    }
}

} // namespace

std::string redact(std::string text, std::initializer_list<const secret*> secrets) {
    constexpr std::string_view marker = "[redacted]";
    std::vector<bool> hit(text.size(), false);
    decoded_text as_is{text, {}};
    for (std::size_t i = 0; i < text.size(); ++i) {
        as_is.origin.emplace_back(i, i + 1);
    }
    const decoded_text views[] = {as_is, percent_decoded(text, false), percent_decoded(text, true)};
    for (const secret* s : secrets) {
        if (s == nullptr || s->empty()) {
            continue;
        }
        for (const auto& view : views) {
            mark(view, s->reveal(), hit);
        }
    }
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!hit[i]) {
            out.push_back(text[i]);
        } else if (i == 0 || !hit[i - 1]) {
            out += marker;
        }
    }
    return out;
}

std::string quote_outside_text(std::string text, std::initializer_list<const secret*> secrets,
                               std::size_t limit) {
    const std::string redacted = redact(std::move(text), secrets);
    std::string out;
    for (const char ch : std::string_view(redacted).substr(0, limit)) {
        const auto c = static_cast<unsigned char>(ch);
        out.push_back(c >= 0x20 && c < 0x7f ? ch : '?');
    }
    if (redacted.size() > limit) {
        out += "...";
    }
    return out;
}

} // namespace priava_tokend
