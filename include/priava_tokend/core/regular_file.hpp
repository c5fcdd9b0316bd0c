#pragma once

#include <priava_tokend/core/error.hpp>
#include <priava_tokend/core/unique_fd.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include <fcntl.h>

namespace priava_tokend {

/// Opens `path` without ever blocking and refuses anything but a regular file: a FIFO, a
/// device or a socket named where a file is expected would otherwise hang the event loop in
/// open() or read(). The open uses O_NONBLOCK (cleared again once the type is known) and
/// O_CLOEXEC besides `flags`. Failures are `file_unreadable`, calling the file `name`, which the
/// caller chooses: never the path when the path could be a secret pasted into the wrong place.
outcome<unique_fd> open_regular_file(const std::string& path, std::string_view name,
                                     int flags = O_RDONLY);

/// The whole of a regular file opened as above, at most `limit` bytes (`file_unreadable`,
/// "... is larger than ...", beyond).
outcome<std::string> read_regular_file(const std::string& path, std::string_view name,
                                       std::size_t limit);

} // namespace priava_tokend
