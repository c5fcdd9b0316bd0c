#pragma once

// Private to the config part: the `[cluster]` section.

#include "config_reader.hpp"

#include <priava_tokend/config/config.hpp>

namespace priava_tokend {

/// Reads and checks `[cluster]`.
void read_cluster(config_reader& in, config::cluster_section& out);

} // namespace priava_tokend
