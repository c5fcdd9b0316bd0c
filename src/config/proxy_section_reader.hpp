#pragma once

// Private to the config part: the `[proxy]` section.

#include "config_reader.hpp"

#include <priava_tokend/config/config.hpp>

namespace priava_tokend {

/// Reads and checks `[proxy]`; the upstream defaults to `priava`'s token URL without its
/// `/oauth/token`, so `priava` must be read first.
void read_proxy(config_reader& in, const config::priava_section& priava,
                config::proxy_section& out);

} // namespace priava_tokend
