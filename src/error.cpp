#include <priava_tokend/error.hpp>

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
