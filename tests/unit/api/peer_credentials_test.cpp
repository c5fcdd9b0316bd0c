#include <priava_tokend/api/peer_credentials.hpp>

#include <gtest/gtest.h>

namespace priava_tokend {
namespace {

constexpr uid_t daemon_uid = 990;

peer_credentials peer(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
    return peer_credentials{4242, uid, gid, std::move(groups)};
}

TEST(PeerAllowed, EveryoneWhenBothListsAreEmpty) {
    EXPECT_TRUE(peer_allowed(peer(1000, 1000), {}, {}, daemon_uid));
}

TEST(PeerAllowed, ByUidOrByPrimaryOrSupplementaryGroup) {
    const std::vector<uid_t> uids{1000};
    const std::vector<gid_t> gids{50};
    EXPECT_TRUE(peer_allowed(peer(1000, 1000), uids, gids, daemon_uid));
    EXPECT_TRUE(peer_allowed(peer(1001, 50), uids, gids, daemon_uid));
    EXPECT_TRUE(peer_allowed(peer(1002, 1002, {7, 50}), uids, gids, daemon_uid));
    EXPECT_FALSE(peer_allowed(peer(1003, 1003, {7}), uids, gids, daemon_uid));
}

TEST(PeerAllowed, TheDaemonsOwnUidAndRootWhateverTheLists) {
    const std::vector<uid_t> uids{1000};
    EXPECT_TRUE(peer_allowed(peer(daemon_uid, 1), uids, {}, daemon_uid));
    EXPECT_TRUE(peer_allowed(peer(0, 0), uids, {}, daemon_uid));
    EXPECT_FALSE(peer_allowed(peer(1, 1), uids, {}, daemon_uid));
}

} // namespace
} // namespace priava_tokend
