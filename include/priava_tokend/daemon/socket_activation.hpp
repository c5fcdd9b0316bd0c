#pragma once

#include <priava_tokend/core/environment.hpp>
#include <priava_tokend/core/error.hpp>

#include <optional>

namespace priava_tokend {

/// The listening socket passed by systemd socket activation (`LISTEN_PID` is this process,
/// `LISTEN_FDS` = 1, fd 3), nothing without activation, or a failure for anything else.
outcome<std::optional<int>> activated_socket(const environment& env);

} // namespace priava_tokend
