#pragma once

#include <priava_tokend/core/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace priava_tokend {

/// Reads from `fd` until end of file or until more than `limit` bytes arrived, retrying on
/// EINTR. The text holds at most `limit + 1` bytes, so a caller tells "too large" by its size.
/// Fails with the `errno` of the failed read.
boost::system::result<std::string, int> read_up_to(int fd, std::size_t limit);

/// Writes all of `data`, retrying on EINTR and short writes. Returns 0 or the `errno` of the
/// failed write.
int write_all(int fd, std::string_view data);

} // namespace priava_tokend
