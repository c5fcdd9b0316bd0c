#include <priava_tokend/keeper/state_after.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono;

stored_tokens generation_4() {
    stored_tokens t;
    t.refresh_token = secret{"refresh-4"};
    t.access_token = secret{"access-4"};
    t.received_at = sys_days{2026y / December / 1} + 8h;
    t.expires_at = t.received_at + 6h;
    t.generation = 4;
    t.bootstrap_code_sha256 = "digest-of-the-first-code";
    return t;
}

TEST(StateAfter, NewTokensAreTheNextGenerationCountedFromTheirReceipt) {
    const wall_time received = sys_days{2026y / December / 1} + 13h;
    const auto after =
        state_after_tokens(generation_4(), token_set{secret{"access-5"}, secret{"refresh-5"}, 6h},
                           received, "digest-of-the-first-code");
    EXPECT_EQ(after.refresh_token.reveal(), "refresh-5");
    EXPECT_EQ(after.access_token.reveal(), "access-5");
    EXPECT_EQ(after.received_at, received);
    EXPECT_EQ(after.expires_at, received + 6h);
    EXPECT_EQ(after.generation, 5u);
    EXPECT_EQ(after.bootstrap_code_sha256, "digest-of-the-first-code");
}

TEST(StateAfter, TokensWithoutARefreshTokenKeepTheOneBefore) {
    const auto after = state_after_tokens(
        generation_4(), token_set{secret{"access-5"}, std::nullopt, 1h}, wall_time{}, "d");
    EXPECT_EQ(after.refresh_token.reveal(), "refresh-4");
    EXPECT_EQ(after.bootstrap_code_sha256, "d");
}

TEST(StateAfter, TheFirstCodeExchangeStartsAtGenerationOne) {
    const auto after =
        state_after_tokens(stored_tokens{}, token_set{secret{"access-1"}, secret{"refresh-1"}, 1h},
                           wall_time{}, "digest-of-the-code");
    EXPECT_EQ(after.generation, 1u);
    EXPECT_EQ(after.bootstrap_code_sha256, "digest-of-the-code");
}

TEST(StateAfter, ARotationReplacesOnlyTheRefreshToken) {
    const auto before = generation_4();
    const auto after = state_after_rotation(before, secret{"refresh-rotated"}, "new-digest");
    EXPECT_EQ(after.refresh_token.reveal(), "refresh-rotated");
    EXPECT_EQ(after.access_token, before.access_token);
    EXPECT_EQ(after.expires_at, before.expires_at);
    EXPECT_EQ(after.received_at, before.received_at);
    EXPECT_EQ(after.generation, 4u);
    EXPECT_EQ(after.bootstrap_code_sha256, "new-digest");
}

} // namespace
} // namespace priava_tokend
