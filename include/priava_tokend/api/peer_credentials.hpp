#pragma once

#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace priava_tokend {

/// Who is at the other end of a Unix socket (`SO_PEERCRED`, `SO_PEERGROUPS`).
struct peer_credentials {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups; ///< supplementary groups, where the kernel tells them

    std::string describe() const; ///< "uid 1000, gid 1000, pid 4242"
};

std::optional<peer_credentials> peer_of(int fd);

/// Access control (docs/socket-api.md): with both lists empty everyone who can open the socket is
/// served; otherwise the peer's uid must be in `allow_uids` or its primary or a supplementary group
/// in `allow_gids`. The daemon's own uid and root are always allowed: they hold the state file
/// anyway, and `bootstrap` through the socket is theirs alone.
bool peer_allowed(const peer_credentials& peer, const std::vector<uid_t>& allow_uids,
                  const std::vector<gid_t>& allow_gids, uid_t own_uid);

} // namespace priava_tokend
