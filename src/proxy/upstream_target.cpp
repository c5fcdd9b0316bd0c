#include <priava_tokend/proxy/upstream_target.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <optional>

namespace priava_tokend {
namespace {

upstream_target refuse(std::string why) {
    return {{}, std::move(why)};
}

/// Why a path segment, decoded, may not reach Priava; empty when it may.
std::string decoded_problem(std::string_view decoded) {
    if (decoded == "." || decoded == "..") {
        return "the path has a '" + std::string(decoded) + "' segment";
    }
    if (decoded.find('/') != std::string_view::npos ||
        decoded.find('\\') != std::string_view::npos) {
        return "the path has an encoded '/' or '\\'";
    }
    if (decoded.find('\0') != std::string_view::npos) {
        return "the path has an encoded NUL";
    }
    return {};
}

/// Why a path segment (percent-encoded as sent) may not reach Priava; empty when it may.
std::string segment_problem(boost::urls::pct_string_view encoded) {
    if (encoded.empty()) {
        return "the path has an empty segment";
    }
    if (encoded.find('%') == std::string_view::npos) {
        return decoded_problem(encoded); // the common case: no copy to decode into
    }
    return decoded_problem(encoded.decode());
}

/// A target of letters, digits, '-', '.', '_', '~' and '/' only: a path in origin form (when it
/// begins with '/') with no query and nothing encoded, which needs no URL parser. Most are.
bool plain_path(std::string_view target) {
    return target.starts_with('/') && std::all_of(target.begin(), target.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
           });
}

} // namespace

upstream_target map_upstream_target(std::string_view socket_target, std::string_view base_path) {
    std::string_view path = socket_target;
    std::optional<std::string_view> query;
    if (!plain_path(socket_target)) {
        const auto url = boost::urls::parse_origin_form(socket_target);
        if (!url) {
            return refuse("the request target is not a path (origin form) with an optional query");
        }
        path = url->encoded_path(); // views of socket_target
        if (url->has_query()) {
            query = url->encoded_query();
        }
    }
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
    // The query is valid percent-encoding (parsed above): every '%' begins an escape, so "%00"
    // is found exactly where the decoded query would have a NUL.
    if (query && query->find("%00") != std::string_view::npos) {
        return refuse("the query has an encoded NUL");
    }
    std::string target(base_path);
    while (target.ends_with('/')) {
        target.pop_back();
    }
    target.append("/").append(rest);
    if (query) {
        target.append("?").append(*query);
    }
    return {std::move(target), {}};
}

} // namespace priava_tokend
