#include <priava_tokend/proxy/forwarded_headers.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;

/// RFC 9110 §7.6.1, and `Proxy-Connection`, which some clients still send.
constexpr std::array<std::string_view, 9> hop_by_hop{"Connection",
                                                     "Keep-Alive",
                                                     "Proxy-Connection",
                                                     "Proxy-Authenticate",
                                                     "Proxy-Authorization",
                                                     "TE",
                                                     "Trailer",
                                                     "Transfer-Encoding",
                                                     "Upgrade"};

constexpr std::array<std::string_view, 5> owned_by_the_daemon{"Host", "Content-Length", "Expect",
                                                              "Authorization", "TenantRegion"};

constexpr std::string_view daemon_prefix = "Priava-Tokend-";

bool named_in(std::string_view name, std::string_view list) {
    // Connection: a comma-separated list of header names (RFC 9110 §7.6.1).
    for (std::size_t start = 0; start <= list.size();) {
        const auto end = std::min(list.find(',', start), list.size());
        std::string_view token = list.substr(start, end - start);
        while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) {
            token.remove_prefix(1);
        }
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) {
            token.remove_suffix(1);
        }
        if (!token.empty() && boost::beast::iequals(token, name)) {
            return true;
        }
        start = end + 1;
    }
    return false;
}

template <std::size_t N>
bool one_of(std::string_view name, const std::array<std::string_view, N>& names) {
    return std::any_of(names.begin(), names.end(),
                       [&](std::string_view n) { return boost::beast::iequals(n, name); });
}

bool named_by_connection(std::string_view name, const http::fields& from) {
    const auto [first, last] = from.equal_range(http::field::connection);
    return std::any_of(first, last, [&](const auto& f) { return named_in(name, f.value()); });
}

bool passed_on_request(std::string_view name, const http::fields& from) {
    const bool daemons = name.size() >= daemon_prefix.size() &&
                         boost::beast::iequals(name.substr(0, daemon_prefix.size()), daemon_prefix);
    return !one_of(name, hop_by_hop) && !one_of(name, owned_by_the_daemon) && !daemons &&
           !named_by_connection(name, from);
}

bool passed_on_response(std::string_view name, const http::fields& from) {
    return !one_of(name, hop_by_hop) && !boost::beast::iequals(name, "Content-Length") &&
           !named_by_connection(name, from);
}

void append_line(std::string& to, std::string_view name, std::string_view value) {
    to.append(name);
    to.append(": ");
    to.append(value);
    to.append("\r\n");
}

} // namespace

void append_request_headers(const http::fields& from, std::string& to) {
    for (const auto& f : from) {
        if (passed_on_request(f.name_string(), from)) {
            append_line(to, f.name_string(), f.value());
        }
    }
}

void copy_response_headers(const http::fields& from, http::fields& to) {
    for (const auto& f : from) {
        if (passed_on_response(f.name_string(), from)) {
            to.insert(f.name_string(), f.value());
        }
    }
}

void append_response_headers(const http::fields& from, std::string& to) {
    for (const auto& f : from) {
        if (passed_on_response(f.name_string(), from)) {
            append_line(to, f.name_string(), f.value());
        }
    }
}

} // namespace priava_tokend
