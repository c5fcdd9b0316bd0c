#include <priava_tokend/api/tcp_admission.hpp>

#include <boost/beast/core/string.hpp>
#include <openssl/crypto.h>

namespace priava_tokend {
namespace {

namespace http = boost::beast::http;

bool same_secret(std::string_view given, std::string_view expected) {
    // The time taken depends on the expected length only, never on how much of it matched.
    if (given.size() != expected.size()) {
        (void)CRYPTO_memcmp(expected.data(), expected.data(), expected.size());
        return false;
    }
    return CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

bool health_probe(std::string_view target) {
    const std::string_view path = target.substr(0, target.find('?'));
    return path == "/livez" || path == "/readyz";
}

} // namespace

bool loopback_host_header(std::string_view host) {
    std::string_view name = host;
    if (name.starts_with('[')) {
        const auto close = name.find(']');
        if (close == std::string_view::npos) {
            return false;
        }
        const std::string_view after = name.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) {
            return false;
        }
        return name.substr(0, close + 1) == "[::1]";
    }
    name = name.substr(0, name.find(':'));
    return boost::beast::iequals(name, "localhost") || name == "127.0.0.1";
}

std::optional<response> tcp_refusal(const http::fields& headers, std::string_view target,
                                    const secret& auth_token) {
    for (const auto field : {http::field::forwarded, http::field::via}) {
        if (headers.find(field) != headers.end()) {
            return error_response(403, "forbidden",
                                  "requests relayed by another proxy are refused on TCP");
        }
    }
    if (headers.find("X-Forwarded-For") != headers.end()) {
        return error_response(403, "forbidden",
                              "requests relayed by another proxy are refused on TCP");
    }
    const auto hosts = headers.equal_range(http::field::host);
    if (hosts.first == hosts.second || std::next(hosts.first) != hosts.second ||
        !loopback_host_header(hosts.first->value())) {
        return error_response(403, "forbidden",
                              "Host must be localhost, 127.0.0.1 or [::1] (DNS rebinding)");
    }
    if (health_probe(target)) {
        return std::nullopt;
    }
    const auto auth = headers.find(tcp_auth_header);
    if (auth == headers.end() || !same_secret(auth->value(), auth_token.reveal())) {
        return error_response(401, "unauthorized",
                              "send Priava-Tokend-Auth with the contents of "
                              "proxy.tcp_auth_token_file");
    }
    return std::nullopt;
}

} // namespace priava_tokend
