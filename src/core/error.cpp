#include <priava_tokend/core/error.hpp>

#include <stdexcept>

namespace priava_tokend {
namespace {

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "priava_tokend"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::config_invalid:
            return "invalid configuration";
        case errc::file_unreadable:
            return "file unreadable";
        case errc::file_insecure:
            return "file permissions too open";
        case errc::state_missing:
            return "no state file";
        case errc::state_corrupt:
            return "state file corrupt";
        case errc::state_foreign:
            return "state file belongs to another credential";
        case errc::state_locked:
            return "state file locked by another process";
        case errc::state_write_failed:
            return "state file write failed";
        case errc::resolve_failed:
            return "host name resolution failed";
        case errc::connect_failed:
            return "connection failed";
        case errc::tls_failed:
            return "TLS handshake failed";
        case errc::request_timeout:
            return "token request timed out";
        case errc::connection_lost:
            return "connection lost";
        case errc::response_too_large:
            return "response too large";
        case errc::malformed_response:
            return "malformed response";
        case errc::server_error:
            return "server error";
        case errc::rate_limited:
            return "rate limited";
        case errc::rejected:
            return "rejected by Priava";
        case errc::daemon_unreachable:
            return "daemon not reachable";
        case errc::bad_reply:
            return "unexpected reply from daemon";
        }
        return "unknown error";
    }
};

} // namespace

std::string_view to_string(errc e) noexcept {
    switch (e) {
    case errc::config_invalid:
        return "config_invalid";
    case errc::file_unreadable:
        return "file_unreadable";
    case errc::file_insecure:
        return "file_insecure";
    case errc::state_missing:
        return "state_missing";
    case errc::state_corrupt:
        return "state_corrupt";
    case errc::state_foreign:
        return "state_foreign";
    case errc::state_locked:
        return "state_locked";
    case errc::state_write_failed:
        return "state_write_failed";
    case errc::resolve_failed:
        return "resolve_failed";
    case errc::connect_failed:
        return "connect_failed";
    case errc::tls_failed:
        return "tls_failed";
    case errc::request_timeout:
        return "request_timeout";
    case errc::connection_lost:
        return "connection_lost";
    case errc::response_too_large:
        return "response_too_large";
    case errc::malformed_response:
        return "malformed_response";
    case errc::server_error:
        return "server_error";
    case errc::rate_limited:
        return "rate_limited";
    case errc::rejected:
        return "rejected";
    case errc::daemon_unreachable:
        return "daemon_unreachable";
    case errc::bad_reply:
        return "bad_reply";
    }
    return "unknown";
}

const boost::system::error_category& error_category() noexcept {
    static const category instance;
    return instance;
}

failure make_failure(errc e, std::string message) {
    return failure{make_error_code(e), std::move(message)};
}

void throw_exception_from_error(const failure& f, const boost::source_location&) {
    throw std::runtime_error(f.message);
}

} // namespace priava_tokend
