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

TEST(Secret, RedactFindsEncodedForms) {
    const secret refresh{"Rt/9+ab=Cd~e.f_gh"};
    for (const std::string echoed :
         {"refresh_token=Rt%2F9%2Bab%3DCd~e.f_gh&grant_type=refresh_token", // form, upper hex
          "refresh_token=Rt%2f9%2bab%3dCd%7Ee%2Ef%5Fgh",                    // every byte, lower
          "token Rt/9+ab=Cd~e.f_gh end"}) {
        const auto out = redact(echoed, {&refresh});
        EXPECT_EQ(out.find("Rt"), std::string::npos) << echoed << " -> " << out;
        EXPECT_EQ(out.find("Cd"), std::string::npos) << echoed << " -> " << out;
        EXPECT_NE(out.find("[redacted]"), std::string::npos) << out;
    }
}

TEST(Secret, RedactFindsAnyPieceOfEightOrMore) {
    const secret client{"0123456789abcdefghij"};
    // A copy cut at the start and at the end, and a piece from the middle.
    EXPECT_EQ(redact("x 0123456789ab y", {&client}), "x [redacted] y");
    EXPECT_EQ(redact("...56789abcdefghij!", {&client}), "...[redacted]!");
    EXPECT_EQ(redact("[3456789a]", {&client}), "[[redacted]]");
    EXPECT_EQ(redact("3456789 is too short to tell", {&client}), "3456789 is too short to tell");
}

TEST(Secret, QuotedOutsideTextIsRedactedBeforeItIsCut) {
    const secret refresh{"abcdefghijklmnopqrstuvwxyz0123456789"};
    // The cut at 20 characters falls inside the token: cutting first would leave 12 of its
    // characters, too few for their 8-character pieces to be found after a cut of the token.
    const std::string text = "echo: refresh_token=" + std::string(refresh.reveal()) + "\x01";
    const auto quoted = quote_outside_text(text, {&refresh}, 40);
    EXPECT_EQ(quoted, "echo: refresh_token=[redacted]?");
    const auto cut =
        quote_outside_text("refresh_token=" + std::string(refresh.reveal()), {&refresh}, 22);
    EXPECT_EQ(cut, "refresh_token=[redacte...");
}

} // namespace
} // namespace priava_tokend
