#include <priava_tokend/core/secret.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

TEST(Secret, RevealsItsValue) {
    const secret s{"refresh-123"};
    EXPECT_EQ(s.reveal(), "refresh-123");
    EXPECT_FALSE(s.empty());
}

TEST(Secret, MovedFromValueIsEmpty) {
    secret a{"abcdefghijklmnopqrstuvwxyz"};
    secret b{std::move(a)};
    EXPECT_EQ(b.reveal(), "abcdefghijklmnopqrstuvwxyz");
    EXPECT_TRUE(a.empty()); // NOLINT(bugprone-use-after-move): the contract under test
}

TEST(Secret, ComparesByValue) {
    EXPECT_EQ(secret{"x"}, secret{"x"});
    EXPECT_FALSE(secret{"x"} == secret{"y"});
    EXPECT_FALSE(secret{"x"} == secret{"xx"});
}

TEST(Secret, RedactRemovesEveryOccurrence) {
    const secret token{"tok/en+1"};
    const secret client{"cs"};
    EXPECT_EQ(redact("bad tok/en+1 and tok/en+1; cs!", {&token, &client}),
              "bad [redacted] and [redacted]; [redacted]!");
}

TEST(Secret, RedactIgnoresEmptySecrets) {
    const secret empty;
    EXPECT_EQ(redact("text", {&empty, nullptr}), "text");
}

} // namespace
} // namespace priava_tokend
