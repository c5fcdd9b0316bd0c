#include <priava_tokend/proxy/forwarded_headers.hpp>

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <string>
#include <utility>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;

/// RFC 9110 §7.6.1, and `Proxy-Connection`, which some clients still send. Every one is a name
/// Beast knows, so a header is matched by its code, not its text.
bool hop_by_hop(http::field name) {
    switch (name) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_connection:
    case http::field::proxy_authenticate:
    case http::field::proxy_authorization:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade:
        return true;
    default:
        return false;
    }
}

/// What the daemon sets on a request itself; `TenantRegion` is not a name Beast knows.
bool owned_by_the_daemon(http::field name, std::string_view text) {
    switch (name) {
    case http::field::host:
    case http::field::content_length:
    case http::field::expect:
    case http::field::authorization:
        return true;
    case http::field::unknown:
        return boost::beast::iequals(text, "TenantRegion");
    default:
        return false;
    }
}

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

/// The `Connection` headers of a message, which may name more hop-by-hop headers; looked up
/// once per message, and most messages have none.
class connection_lists {
  public:
    explicit connection_lists(const http::fields& from)
        : range_(from.equal_range(http::field::connection)) {}

    bool name(std::string_view header) const {
        return std::any_of(range_.first, range_.second,
                           [&](const auto& f) { return named_in(header, f.value()); });
    }

  private:
    std::pair<http::fields::const_iterator, http::fields::const_iterator> range_;
};

bool passed_on_request(const http::fields::value_type& f, const connection_lists& listed) {
    const std::string_view name = f.name_string();
    const bool daemons = f.name() == http::field::unknown && name.size() >= daemon_prefix.size() &&
                         boost::beast::iequals(name.substr(0, daemon_prefix.size()), daemon_prefix);
    return !hop_by_hop(f.name()) && !owned_by_the_daemon(f.name(), name) && !daemons &&
           !listed.name(name);
}

bool passed_on_response(const http::fields::value_type& f, const connection_lists& listed) {
    return !hop_by_hop(f.name()) && f.name() != http::field::content_length &&
           !listed.name(f.name_string());
}

void append_line(std::string& to, std::string_view name, std::string_view value) {
    to.append(name);
    to.append(": ");
    to.append(value);
    to.append("\r\n");
}

} // namespace

void append_request_headers(const http::fields& from, std::string& to) {
    const connection_lists listed(from);
    for (const auto& f : from) {
        if (passed_on_request(f, listed)) {
            append_line(to, f.name_string(), f.value());
        }
    }
}

void copy_response_headers(const http::fields& from, http::fields& to) {
    const connection_lists listed(from);
    for (const auto& f : from) {
        if (passed_on_response(f, listed)) {
            to.insert(f.name_string(), f.value());
        }
    }
}

void append_response_headers(const http::fields& from, std::string& to) {
    const connection_lists listed(from);
    for (const auto& f : from) {
        if (passed_on_response(f, listed)) {
            append_line(to, f.name_string(), f.value());
        }
    }
}

} // namespace priava_tokend
