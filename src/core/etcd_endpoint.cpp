#include <priava_tokend/core/etcd_endpoint.hpp>
#include <priava_tokend/core/parse_number.hpp>

#include <boost/url/parse.hpp>

namespace priava_tokend {
namespace {

namespace urls = boost::urls;

failure bad_endpoint(std::string_view url, std::string what) {
    return make_failure(errc::config_invalid,
                        "etcd endpoint '" + std::string(url) + "' " + std::move(what));
}

} // namespace

outcome<etcd_endpoint> parse_etcd_endpoint(std::string_view url) {
    for (const char ch : url) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= ' ' || c == 0x7f) {
            return make_failure(errc::config_invalid,
                                "an etcd endpoint contains a space or control character");
        }
    }
    const auto parsed = urls::parse_absolute_uri(url);
    if (!parsed) {
        return bad_endpoint(url, "is not a URL like http://10.0.0.1:2379");
    }
    const urls::url_view& u = *parsed;
    etcd_endpoint ep;
    ep.url = std::string(url);
    if (u.scheme_id() == urls::scheme::https) {
        ep.tls = true;
    } else if (u.scheme_id() != urls::scheme::http) {
        return bad_endpoint(url, "must start with http:// or https://");
    }
    if (u.has_userinfo()) {
        return make_failure(errc::config_invalid,
                            "an etcd endpoint must not contain user info: use cluster.username "
                            "and cluster.password_file");
    }
    if (!(u.encoded_path().empty() || u.encoded_path() == "/") || u.has_query() ||
        u.has_fragment()) {
        return bad_endpoint(url, "must have no path, query or fragment");
    }
    if (u.host_type() == urls::host_type::ipv6) {
        ep.host = u.host_ipv6_address().to_string();
    } else if (!u.encoded_host().empty() && u.host_type() != urls::host_type::ipvfuture) {
        ep.host = u.encoded_host();
    } else {
        return bad_endpoint(url, "has no valid host");
    }
    if (u.has_port()) {
        const auto port = parse_number<std::uint16_t>(u.port());
        if (!port || *port == 0) {
            return bad_endpoint(url, "has a port that is not 1-65535");
        }
        ep.port = *port;
    }
    ep.host_header = std::string(u.encoded_host_and_port());
    if (!u.has_port()) {
        ep.host_header += ":" + std::to_string(ep.port);
    }
    return ep;
}

} // namespace priava_tokend
