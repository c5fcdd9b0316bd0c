#pragma once

// Private to the config part: the `[cluster]` section.

#include "config_reader.hpp"

#include <priava_tokend/config/config.hpp>

namespace priava_tokend {

/// Reads and checks `[cluster]`; `proxy` must be read first (the cluster-wide budget is not
/// built yet, so the two are not combined).
void read_cluster(config_reader& in, const config::proxy_section& proxy,
                  config::cluster_section& out);

} // namespace priava_tokend
