#include "temp_dir.hpp"

#include <priava_tokend/cluster/state_cipher.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace priava_tokend {
namespace {

using testing::temp_dir;
using testing::write_file;

// 32 bytes 0x00..0x1f and 32 bytes 0x20..0x3f, in base64.
constexpr const char* key_a_base64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* key_b_base64 = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

secret key_of(char first) {
    std::string bytes(32, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        bytes[i] = static_cast<char>(first + static_cast<char>(i));
    }
    return secret{std::move(bytes)};
}

const state_cipher cipher_a{key_of(0x00)};
const state_cipher cipher_b{key_of(0x20)};

constexpr const char* tag_mismatch =
    "the shared state does not decrypt with this encryption_key_file (a different key on this "
    "node, or the data was altered)";

std::string failure_text(const outcome<secret>& opened) {
    EXPECT_FALSE(opened.has_value());
    return opened ? std::string() : opened.error().message;
}

TEST(StateCipher, OpensWhatItSealed) {
    const std::string sealed = cipher_a.seal(R"({"refresh_token":"r-1"})", "cluster/state");
    EXPECT_EQ(sealed.size(), state_cipher::nonce_size + 23 + state_cipher::tag_size);
    const auto opened = cipher_a.open(sealed, "cluster/state");
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    EXPECT_EQ(opened->reveal(), R"({"refresh_token":"r-1"})");
}

TEST(StateCipher, OpensAnEmptyPlaintextWithEmptyAssociatedData) {
    const auto opened = cipher_a.open(cipher_a.seal("", ""), "");
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    EXPECT_TRUE(opened->empty());
}

TEST(StateCipher, SealsTheSameTextDifferentlyEachTime) {
    const std::string first = cipher_a.seal("token", "ad");
    const std::string second = cipher_a.seal("token", "ad");
    EXPECT_NE(first, second);
    EXPECT_NE(first.substr(0, state_cipher::nonce_size),
              second.substr(0, state_cipher::nonce_size));
}

TEST(StateCipher, DoesNotLeaveThePlaintextInTheSealedBytes) {
    EXPECT_EQ(cipher_a.seal("refresh-token-value", "ad").find("refresh-token-value"),
              std::string::npos);
}

TEST(StateCipher, RefusesDataSealedWithAnotherKey) {
    EXPECT_EQ(failure_text(cipher_b.open(cipher_a.seal("token", "ad"), "ad")), tag_mismatch);
}

TEST(StateCipher, RefusesAnAlteredCiphertextByte) {
    std::string sealed = cipher_a.seal("token", "ad");
    sealed[state_cipher::nonce_size] = static_cast<char>(sealed[state_cipher::nonce_size] ^ 0x01);
    const auto opened = cipher_a.open(sealed, "ad");
    EXPECT_EQ(failure_text(opened), tag_mismatch);
    EXPECT_EQ(opened.error().code, make_error_code(errc::state_corrupt));
}

TEST(StateCipher, RefusesAnAlteredNonceOrTag) {
    std::string nonce_changed = cipher_a.seal("token", "ad");
    nonce_changed.front() = static_cast<char>(nonce_changed.front() ^ 0x80);
    EXPECT_EQ(failure_text(cipher_a.open(nonce_changed, "ad")), tag_mismatch);
    std::string tag_changed = cipher_a.seal("token", "ad");
    tag_changed.back() = static_cast<char>(tag_changed.back() ^ 0x01);
    EXPECT_EQ(failure_text(cipher_a.open(tag_changed, "ad")), tag_mismatch);
}

TEST(StateCipher, RefusesAlteredAssociatedData) {
    const std::string sealed = cipher_a.seal("token", "cluster/a");
    EXPECT_EQ(failure_text(cipher_a.open(sealed, "cluster/b")), tag_mismatch);
    EXPECT_EQ(failure_text(cipher_a.open(sealed, "")), tag_mismatch);
}

TEST(StateCipher, RefusesTruncatedInput) {
    const std::string sealed = cipher_a.seal("token", "ad");
    EXPECT_EQ(failure_text(cipher_a.open(sealed.substr(0, sealed.size() - 1), "ad")), tag_mismatch);
    const std::string short_text = failure_text(cipher_a.open(sealed.substr(0, 27), "ad"));
    EXPECT_NE(short_text.find("too short"), std::string::npos) << short_text;
    EXPECT_NE(failure_text(cipher_a.open("", "ad")).find("too short"), std::string::npos);
}

TEST(StateCipher, RefusesAKeyOfTheWrongSize) {
    EXPECT_THROW(state_cipher{secret{std::string(16, 'k')}}, std::invalid_argument);
    EXPECT_THROW(state_cipher{secret{std::string(33, 'k')}}, std::invalid_argument);
    EXPECT_THROW(state_cipher{secret{}}, std::invalid_argument);
}

TEST(StateCipher, KeyIdIsTheSameForTheSameKeyOnly) {
    EXPECT_EQ(cipher_a.key_id(), state_cipher{key_of(0x00)}.key_id());
    EXPECT_NE(cipher_a.key_id(), cipher_b.key_id());
    EXPECT_EQ(cipher_a.key_id().size(), 8U);
    EXPECT_EQ(cipher_a.key_id().find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(StateCipherKeyFile, ReadsAPrivateBase64File) {
    const temp_dir dir;
    const std::string path = dir.file("key");
    write_file(path, std::string(key_a_base64) + "\n", 0600);
    const auto cipher = state_cipher::from_key_file(path);
    ASSERT_TRUE(cipher.has_value()) << cipher.error().message;
    EXPECT_EQ(cipher->key_id(), cipher_a.key_id());
    const auto opened = cipher_a.open(cipher->seal("token", "ad"), "ad");
    ASSERT_TRUE(opened.has_value()) << opened.error().message;
    EXPECT_EQ(opened->reveal(), "token");
}

TEST(StateCipherKeyFile, AllowsSurroundingWhiteSpace) {
    const temp_dir dir;
    const std::string path = dir.file("key");
    write_file(path, std::string("\n  ") + key_b_base64 + " \r\n", 0400);
    const auto cipher = state_cipher::from_key_file(path);
    ASSERT_TRUE(cipher.has_value()) << cipher.error().message;
    EXPECT_EQ(cipher->key_id(), cipher_b.key_id());
}

std::string key_file_failure(const std::string& path, errc expected) {
    const auto cipher = state_cipher::from_key_file(path);
    EXPECT_FALSE(cipher.has_value());
    if (cipher) {
        return {};
    }
    EXPECT_EQ(cipher.error().code, make_error_code(expected)) << cipher.error().message;
    // Named by its setting: the path could be a key pasted into the wrong place.
    EXPECT_NE(cipher.error().message.find("cluster.encryption_key_file"), std::string::npos)
        << cipher.error().message;
    EXPECT_EQ(cipher.error().message.find(path), std::string::npos) << cipher.error().message;
    return cipher.error().message;
}

TEST(StateCipherKeyFile, NamesAMissingFile) {
    const temp_dir dir;
    const std::string text = key_file_failure(dir.file("absent"), errc::file_unreadable);
    EXPECT_NE(text.find("No such file"), std::string::npos) << text;
}

TEST(StateCipherKeyFile, RefusesADirectory) {
    const temp_dir dir;
    std::filesystem::create_directory(dir.file("key"));
    const std::string text = key_file_failure(dir.file("key"), errc::file_unreadable);
    EXPECT_NE(text.find("not a regular file"), std::string::npos) << text;
}

TEST(StateCipherKeyFile, RefusesAKeyOfSixteenBytes) {
    const temp_dir dir;
    const std::string path = dir.file("key");
    write_file(path, "AAECAwQFBgcICQoLDA0ODw==\n", 0600);
    const std::string text = key_file_failure(path, errc::file_unreadable);
    EXPECT_NE(text.find("decodes to 16 bytes instead of 32"), std::string::npos) << text;
}

TEST(StateCipherKeyFile, RefusesTextThatIsNotBase64) {
    const temp_dir dir;
    const std::string path = dir.file("key");
    for (const std::string_view content :
         {"not-base64-at-all!", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", // no padding
          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaG=wdHh8=",
          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH===",
          "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=AAAA"}) {
        write_file(path, content, 0600);
        const std::string text = key_file_failure(path, errc::file_unreadable);
        EXPECT_NE(text.find("is not base64"), std::string::npos) << content << ": " << text;
    }
}

TEST(StateCipherKeyFile, RefusesAFileOthersMayRead) {
    const temp_dir dir;
    const std::string path = dir.file("key");
    write_file(path, key_a_base64, 0640);
    const std::string text = key_file_failure(path, errc::file_insecure);
    EXPECT_NE(text.find("0640"), std::string::npos) << text;
    EXPECT_NE(text.find("chmod 600"), std::string::npos) << text;
}

TEST(StateCipherKeyFile, NeverQuotesTheFileContent) {
    const temp_dir dir;
    const std::string path = dir.file("key");
    for (const std::string& content :
         {std::string("AAECAwQFBgcICQoLDA0ODw=="), std::string("c2VjcmV0LXZhbHVl!"),
          std::string(key_a_base64) + "X", std::string("secret value with spaces")}) {
        write_file(path, content, 0600);
        const auto cipher = state_cipher::from_key_file(path);
        ASSERT_FALSE(cipher.has_value()) << content;
        const std::string& text = cipher.error().message;
        EXPECT_EQ(text.find(content), std::string::npos) << text;
        EXPECT_EQ(text.find(content.substr(0, 8)), std::string::npos) << text;
    }
    write_file(path, key_a_base64, 0644);
    const auto insecure = state_cipher::from_key_file(path);
    ASSERT_FALSE(insecure.has_value());
    EXPECT_EQ(insecure.error().message.find("AAECAwQF"), std::string::npos);
}

} // namespace
} // namespace priava_tokend
