#include <priava_tokend/cli/directory_owner_identity.hpp>
#include <priava_tokend/core/errno_text.hpp>

#include <cerrno>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend {

outcome<directory_owner_identity> directory_owner_identity::assume(const std::string& directory) {
    directory_owner_identity identity;
    struct stat st {};
    if (::geteuid() != 0 || ::stat(directory.c_str(), &st) != 0 || st.st_uid == 0) {
        return identity;
    }
    identity.root_gid_ = ::getegid();
    const int count = ::getgroups(0, nullptr);
    identity.root_groups_.resize(count > 0 ? static_cast<std::size_t>(count) : 0);
    if (count > 0 && ::getgroups(count, identity.root_groups_.data()) < 0) {
        identity.root_groups_.clear();
    }
    const gid_t owner_group = st.st_gid;
    if (::setgroups(1, &owner_group) != 0 || ::setegid(st.st_gid) != 0 ||
        ::seteuid(st.st_uid) != 0) {
        const int error = errno;
        ::setegid(identity.root_gid_);
        ::setgroups(identity.root_groups_.size(), identity.root_groups_.data());
        return make_failure(errc::file_insecure, "cannot act as the owner (uid " +
                                                     std::to_string(st.st_uid) + ") of " +
                                                     directory + ": " + errno_text(error));
    }
    identity.switched_ = true;
    return identity;
}

directory_owner_identity::directory_owner_identity(directory_owner_identity&& other) noexcept
    : switched_(other.switched_)
    , root_gid_(other.root_gid_)
    , root_groups_(std::move(other.root_groups_)) {
    other.switched_ = false;
}

directory_owner_identity::~directory_owner_identity() {
    if (switched_) {
        // Back to root: first the uid, which the other two need.
        (void)!::seteuid(0);
        (void)!::setegid(root_gid_);
        (void)!::setgroups(root_groups_.size(), root_groups_.data());
    }
}

} // namespace priava_tokend
