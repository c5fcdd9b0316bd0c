#include <priava_tokend/api/peer_credentials.hpp>

#include <algorithm>
#include <cerrno>

#include <sys/socket.h>

namespace priava_tokend {

std::string peer_credentials::describe() const {
    return "uid " + std::to_string(uid) + ", gid " + std::to_string(gid) + ", pid " +
           std::to_string(pid);
}

std::optional<peer_credentials> peer_of(int fd) {
    ucred cred{};
    socklen_t length = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
        return std::nullopt;
    }
    peer_credentials peer{cred.pid, cred.uid, cred.gid, {}};
    std::vector<gid_t> groups(64);
    socklen_t bytes = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    int rc = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes);
    if (rc != 0 && errno == ERANGE) {
        groups.resize(bytes / sizeof(gid_t));
        rc = ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &bytes);
    }
    if (rc == 0) {
        groups.resize(std::min<std::size_t>(groups.size(), bytes / sizeof(gid_t)));
        peer.groups = std::move(groups);
    }
    return peer;
}

bool peer_allowed(const peer_credentials& peer, const std::vector<uid_t>& allow_uids,
                  const std::vector<gid_t>& allow_gids, uid_t own_uid) {
    if ((allow_uids.empty() && allow_gids.empty()) || peer.uid == own_uid || peer.uid == 0) {
        return true;
    }
    const auto listed = [](const auto& list, auto id) {
        return std::find(list.begin(), list.end(), id) != list.end();
    };
    if (listed(allow_uids, peer.uid) || listed(allow_gids, peer.gid)) {
        return true;
    }
    return std::any_of(peer.groups.begin(), peer.groups.end(),
                       [&](gid_t g) { return listed(allow_gids, g); });
}

} // namespace priava_tokend
