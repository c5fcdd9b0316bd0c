#include "cluster_section_reader.hpp"

#include <priava_tokend/core/etcd_endpoint.hpp>

#include <algorithm>
#include <cctype>

namespace priava_tokend {
namespace {

constexpr std::string_view section = "cluster";

/// Letters, digits, `.`, `_`, `-`; at most 64: safe inside an etcd key and a log line.
bool valid_label(std::string_view s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '_' || c == '-';
    });
}

void read_label(config_reader& in, std::string_view key, std::string& out) {
    if (auto v = in.text(section, key)) {
        if (valid_label(*v)) {
            out = std::move(*v);
        } else {
            in.problem(section, key, "'" + *v + "' must be 1-64 letters, digits, '.', '_' or '-'",
                       "use e.g. \"" + std::string(key == "name" ? "default" : "host-1") + "\"",
                       in.origin(section, key));
        }
    }
}

void read_endpoints(config_reader& in, config::cluster_section& out) {
    auto urls = in.text_list(section, "etcd_endpoints");
    if (!urls) {
        return;
    }
    bool ok = true;
    for (const auto& url : *urls) {
        if (auto ep = parse_etcd_endpoint(url); !ep) {
            in.problem(section, "etcd_endpoints", ep.error().message,
                       "list every member's client URL, e.g. [\"http://10.0.0.1:2379\"]",
                       in.origin(section, "etcd_endpoints"));
            ok = false;
        }
    }
    if (ok) {
        out.etcd_endpoints = std::move(*urls);
    }
}

void read_files(config_reader& in, config::cluster_section& out) {
    if (auto f = in.text(section, "encryption_key_file")) {
        out.encryption_key_file = std::move(*f);
    }
    out.ca_file = in.text(section, "ca_file");
    out.cert_file = in.text(section, "cert_file");
    out.key_file = in.text(section, "key_file");
    out.username = in.text(section, "username");
    out.password_file = in.text(section, "password_file");
    if (out.cert_file.has_value() != out.key_file.has_value()) {
        in.problem(section, out.cert_file ? "key_file" : "cert_file",
                   "is required with " + std::string(out.cert_file ? "cert_file" : "key_file"),
                   "set both (the client certificate and its key) or neither");
    }
    if (out.username.has_value() != out.password_file.has_value()) {
        in.problem(section, out.username ? "password_file" : "username",
                   "is required with " + std::string(out.username ? "username" : "password_file"),
                   "set both or neither");
    }
}

} // namespace

void read_cluster(config_reader& in, config::cluster_section& out) {
    read_endpoints(in, out);
    read_label(in, "name", out.name);
    read_label(in, "node", out.node);
    if (auto d = in.duration(section, "lease_ttl", milliseconds{2'000}, milliseconds{300'000})) {
        if (d->count() % 1000 != 0) {
            in.problem(section, "lease_ttl", "must be whole seconds between 2s and 5m",
                       "use e.g. \"10s\"", in.origin(section, "lease_ttl"));
        } else {
            out.lease_ttl = *d;
        }
    }
    read_files(in, out);
    if (!out.enabled()) {
        return;
    }
    if (out.encryption_key_file.empty()) {
        in.problem(section, "encryption_key_file", "is required in cluster mode",
                   "create it once with `openssl rand -base64 32 > key; chmod 600 key` and copy "
                   "the same file to every node");
    }
}

} // namespace priava_tokend
