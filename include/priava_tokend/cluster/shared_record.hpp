#pragma once

#include <priava_tokend/cluster/state_cipher.hpp>
#include <priava_tokend/core/error.hpp>
#include <priava_tokend/keeper/stored_tokens.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace priava_tokend {

/// The value of the cluster's state key `/priava-tokend/<name>/state` (docs/cluster.md): a
/// plain envelope that fences can read (generation, phase, holder) around the tokens, sealed
/// with AES-256-GCM. The associated data binds the envelope's fields and the credential
/// fingerprint to the tokens, so etcd's data alone neither reveals nor re-labels them.
struct shared_record {
    enum class phase {
        ready,      ///< the tokens are the newest; any leader may refresh them
        refreshing, ///< `holder` may be sending the refresh token to Priava
        rejected,   ///< Priava rejected the refresh token: a new code is needed
    };
    std::uint64_t generation = 0;
    phase state = phase::ready;
    std::string holder;                  ///< `node/incarnation` of the last writer
    std::optional<stored_tokens> tokens; ///< none before the first code exchange
};

/// The node part of a holder (`host-1` of `host-1/3f2a9c1e`).
std::string_view holder_node(std::string_view holder);

std::string encode_shared_record(const shared_record& record, const state_cipher& cipher,
                                 std::string_view fingerprint);

/// Fails with `state_corrupt` naming what is wrong (never a value): not an envelope, a wrong
/// key or altered data, or tokens of another credential (`state_foreign`).
outcome<shared_record> decode_shared_record(std::string_view text, const state_cipher& cipher,
                                            std::string_view fingerprint);

} // namespace priava_tokend
