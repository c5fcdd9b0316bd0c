#include <priava_tokend/proxy/upstream_target.hpp>

#include <boost/url/parse.hpp>

namespace priava_tokend {
namespace {

upstream_target refuse(std::string why) {
    return {{}, std::move(why)};
}

/// Why a path segment (percent-encoded as sent) may not reach Priava; empty when it may.
std::string segment_problem(boost::urls::pct_string_view encoded) {
    if (encoded.empty()) {
        return "the path has an empty segment";
    }
    const std::string decoded = encoded.decode();
    if (decoded == "." || decoded == "..") {
        return "the path has a '" + decoded + "' segment";
    }
    if (decoded.find('/') != std::string::npos || decoded.find('\\') != std::string::npos) {
        return "the path has an encoded '/' or '\\'";
    }
    if (decoded.find('\0') != std::string::npos) {
        return "the path has an encoded NUL";
    }
    return {};
}

} // namespace

upstream_target map_upstream_target(std::string_view socket_target, std::string_view base_path) {
    const auto url = boost::urls::parse_origin_form(socket_target);
    if (!url) {
        return refuse("the request target is not a path (origin form) with an optional query");
    }
    const std::string_view path = url->encoded_path();
    if (!path.starts_with(proxy_route_prefix)) {
        return refuse("the path is not below " + std::string(proxy_route_prefix));
    }
    if (path.size() == proxy_route_prefix.size()) {
        return refuse("no Priava path after " + std::string(proxy_route_prefix));
    }
    const std::string_view rest = path.substr(proxy_route_prefix.size());
    for (std::size_t start = 0; start <= rest.size();) {
        const auto end = std::min(rest.find('/', start), rest.size());
        auto problem =
            segment_problem(boost::urls::pct_string_view(rest.substr(start, end - start)));
        if (!problem.empty()) {
            return refuse(std::move(problem));
        }
        start = end + 1;
    }
    const std::string_view query = url->encoded_query();
    if (url->has_query() &&
        boost::urls::pct_string_view(query).decode().find('\0') != std::string::npos) {
        return refuse("the query has an encoded NUL");
    }
    std::string target(base_path);
    while (target.ends_with('/')) {
        target.pop_back();
    }
    target.append("/").append(rest);
    if (url->has_query()) {
        target.append("?").append(query);
    }
    return {std::move(target), {}};
}

} // namespace priava_tokend
