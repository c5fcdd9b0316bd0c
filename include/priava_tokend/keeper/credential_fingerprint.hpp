#pragma once

#include <priava_tokend/config/config.hpp>

#include <string>

namespace priava_tokend {

/// SHA-256 (hex) of token_url, client_id and region: what identifies a credential. Stored state
/// made for another credential is refused rather than used.
std::string credential_fingerprint(const config::priava_section& priava);

} // namespace priava_tokend
