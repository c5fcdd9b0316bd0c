#pragma once

#include <cstddef>

namespace priava_tokend {

/// Lifts the soft descriptor limit to the hard one (1024 by default, 524288 under systemd):
/// `listen.max_connections` sockets plus the daemon's own files must fit.
void raise_descriptor_limit();

/// Grows the descriptor table to hold `descriptors` at once. Call while the process has one
/// thread: growing it later, with threads, waits for an RCU grace period at each doubling (about
/// 12 ms each here, 50 ms to reach 1024), which a first burst of clients would otherwise pay.
void reserve_descriptor_table(std::size_t descriptors);

} // namespace priava_tokend
