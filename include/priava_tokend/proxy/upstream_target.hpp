#pragma once

#include <string>
#include <string_view>

namespace priava_tokend {

/// Where the socket's proxy routes start: `/v1/proxy/<path>?<query>`.
inline constexpr std::string_view proxy_route_prefix = "/v1/proxy/";

/// The request target Priava gets for an app's `/v1/proxy/<path>?<query>`, or why the app gets
/// a 400 instead.
struct upstream_target {
    std::string target;  ///< `<base_path>/<path>?<query>`, encoded as the app encoded it
    std::string refusal; ///< empty when `target` may be sent

    bool ok() const noexcept { return refusal.empty(); }
};

/// Maps an origin-form `socket_target` below `proxy_route_prefix` onto `base_path` (the
/// upstream's path, e.g. `/api/rest`). Refused: anything but origin form (an absolute URL, `*`),
/// a target outside the prefix, no path, an empty, `.` or `..` segment (also percent-encoded),
/// an encoded `/`, `\` or NUL in a segment, and a query with NUL: the path Priava sees is always
/// below the upstream, whatever Priava's own normalisation does.
upstream_target map_upstream_target(std::string_view socket_target, std::string_view base_path);

} // namespace priava_tokend
