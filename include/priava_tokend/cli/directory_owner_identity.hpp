#pragma once

#include <priava_tokend/core/error.hpp>

#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace priava_tokend {

/// Root acting in a directory another user owns, as that user: while alive, the effective uid,
/// gid and groups of the process are the owner's, so that whatever the owner planted there (a
/// symbolic or hard link to /etc/shadow, a FIFO) can do no more than the owner could. Files made
/// meanwhile belong to the owner without a chown by path. Only the effective ids change; the
/// destructor returns to root. Changes nothing unless the process runs as root and the
/// directory belongs to another user.
class directory_owner_identity {
  public:
    static outcome<directory_owner_identity> assume(const std::string& directory);

    directory_owner_identity(directory_owner_identity&& other) noexcept;
    directory_owner_identity& operator=(directory_owner_identity&&) = delete;
    directory_owner_identity(const directory_owner_identity&) = delete;
    directory_owner_identity& operator=(const directory_owner_identity&) = delete;
    ~directory_owner_identity();

  private:
    directory_owner_identity() = default;
    bool switched_ = false;
    gid_t root_gid_ = 0;
    std::vector<gid_t> root_groups_;
};

} // namespace priava_tokend
