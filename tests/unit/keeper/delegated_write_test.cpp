#include <priava_tokend/keeper/delegated_write.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

using namespace std::chrono;

TEST(DelegatedWrite, RoundTripsWithTheStateBefore) {
    delegated_write w{"/var/lib/priava-tokend/state.json", "fingerprint", {}, "code-digest"};
    w.before.refresh_token = secret{"refresh+/=1"};
    w.before.access_token = secret{"access-1"};
    w.before.received_at = sys_days{2026y / December / 1} + 8h;
    w.before.expires_at = w.before.received_at + 6h;
    w.before.generation = 7;
    const auto back = decode_delegated_write(encode_delegated_write(w).reveal());
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->path, w.path);
    EXPECT_EQ(back->fingerprint, "fingerprint");
    EXPECT_EQ(back->code_digest, "code-digest");
    EXPECT_EQ(back->before.refresh_token.reveal(), "refresh+/=1");
    EXPECT_EQ(back->before.access_token.reveal(), "access-1");
    EXPECT_EQ(back->before.expires_at, w.before.expires_at);
    EXPECT_EQ(back->before.generation, 7u);
}

TEST(DelegatedWrite, RoundTripsBeforeTheFirstState) {
    const auto back = decode_delegated_write(
        encode_delegated_write(delegated_write{"/s.json", "fp", {}, "d"}).reveal());
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(back->before.refresh_token.empty());
    EXPECT_EQ(back->before.generation, 0u);
}

TEST(DelegatedWrite, MalformedOrdersAreRefusedWithoutQuotingThem) {
    for (const char* bad : {"", "[]", R"({"path":"/s.json","fingerprint":"fp"})",
                            R"({"path":"","fingerprint":"fp","code_digest":""})",
                            R"({"path":"/s","fingerprint":"fp","code_digest":"","before":"x"})"}) {
        const auto r = decode_delegated_write(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, make_error_code(errc::state_write_failed));
    }
}

} // namespace
} // namespace priava_tokend
