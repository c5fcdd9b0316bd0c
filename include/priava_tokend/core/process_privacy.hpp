#pragma once

namespace priava_tokend {

/// No core dump of this process can hold a token, a refresh token or a code: RLIMIT_CORE 0
/// (inherited by the children it starts) and not dumpable, which also keeps other processes of
/// the same user from ptrace(2) and /proc/<pid>/mem. Every command calls it first, the token
/// request child included (execve makes a process dumpable again).
void forbid_core_dumps() noexcept;

/// Overwrites the value of the environment variable `name` where it lies (so that
/// /proc/<pid>/environ no longer shows it) and removes it from the environment, for the client
/// secret of `PRIAVA_CLIENT_SECRET` once it has been read.
void wipe_environment_variable(const char* name) noexcept;

} // namespace priava_tokend
