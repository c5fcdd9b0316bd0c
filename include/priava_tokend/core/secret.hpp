#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace priava_tokend {

/// A refresh token, access token, client secret or authorization code.
///
/// It cannot be streamed or formatted; the only way to the bytes is `reveal()`, so every place
/// that puts a secret on the wire or on disk is visible in a search. The memory is wiped when the
/// value dies.
class secret {
  public:
    secret() = default;
    explicit secret(std::string value) noexcept
        : value_(std::move(value)) {}
    secret(const secret& other)
        : value_(other.value_) {}
    secret(secret&& other) noexcept
        : value_(std::move(other.value_)) {
        other.wipe();
    }
    secret& operator=(const secret& other);
    secret& operator=(secret&& other) noexcept;
    ~secret() { wipe(); }

    std::string_view reveal() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }

    friend bool operator==(const secret& a, const secret& b) noexcept;

  private:
    void wipe() noexcept;
    std::string value_;
};

/// Wipes a plain string that held a secret (a request body, a reply) before its memory goes
/// back to the allocator, and empties it.
void wipe(std::string& text) noexcept;

/// Replaces with `[redacted]` every form of each non-empty secret in `text`: as it is, percent-
/// encoded (either case of hex, whatever characters the encoder chose to encode) or form-encoded,
/// and any piece of it 8 characters long or longer (a cut or split copy). Used on text that came
/// from outside (a server's error_description) before it reaches a log or a client.
std::string redact(std::string text, std::initializer_list<const secret*> secrets);

/// Outside text fit for a log line or /v1/status: redacted as above first, then control and
/// non-ASCII characters replaced by `?` and the text cut to `limit` characters ("..." after).
std::string quote_outside_text(std::string text, std::initializer_list<const secret*> secrets,
                               std::size_t limit = 300);

} // namespace priava_tokend
