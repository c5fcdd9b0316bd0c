#pragma once

#include <priava_tokend/core/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace priava_tokend {

/// One etcd member's client URL taken apart: `http://10.0.0.1:2379`, `https://etcd-1:2379`.
struct etcd_endpoint {
    bool tls = false;
    std::string host; ///< without brackets for IPv6
    std::uint16_t port = 2379;
    std::string host_header; ///< `Host:` value
    std::string url;         ///< as configured, for log lines
};

/// Accepts `http://` and `https://` with a host, an optional port (default 2379) and no path,
/// query, fragment or user info; says which part is wrong otherwise.
outcome<etcd_endpoint> parse_etcd_endpoint(std::string_view url);

} // namespace priava_tokend
