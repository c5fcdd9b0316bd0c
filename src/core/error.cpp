#include <priava_tokend/core/error.hpp>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace priava_tokend {
namespace {

struct errc_text {
    errc code;
    std::string_view name;    ///< for `/v1/status` and logs
    std::string_view message; ///< the error category's message
};

constexpr std::array<errc_text, 20> texts{{
    {errc::config_invalid, "config_invalid", "invalid configuration"},
    {errc::file_unreadable, "file_unreadable", "file unreadable"},
    {errc::file_insecure, "file_insecure", "file permissions too open"},
    {errc::state_missing, "state_missing", "no state file"},
    {errc::state_corrupt, "state_corrupt", "state file corrupt"},
    {errc::state_foreign, "state_foreign", "state file belongs to another credential"},
    {errc::state_locked, "state_locked", "state file locked by another process"},
    {errc::state_write_failed, "state_write_failed", "state file write failed"},
    {errc::resolve_failed, "resolve_failed", "host name resolution failed"},
    {errc::connect_failed, "connect_failed", "connection failed"},
    {errc::tls_failed, "tls_failed", "TLS handshake failed"},
    {errc::request_timeout, "request_timeout", "token request timed out"},
    {errc::connection_lost, "connection_lost", "connection lost"},
    {errc::response_too_large, "response_too_large", "response too large"},
    {errc::malformed_response, "malformed_response", "malformed response"},
    {errc::server_error, "server_error", "server error"},
    {errc::rate_limited, "rate_limited", "rate limited"},
    {errc::rejected, "rejected", "rejected by Priava"},
    {errc::daemon_unreachable, "daemon_unreachable", "daemon not reachable"},
    {errc::bad_reply, "bad_reply", "unexpected reply from daemon"},
}};

const errc_text* find(errc e) noexcept {
    const auto* it =
        std::find_if(texts.begin(), texts.end(), [e](const errc_text& t) { return t.code == e; });
    return it != texts.end() ? it : nullptr;
}

class category final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "priava_tokend"; }

    std::string message(int ev) const override {
        const errc_text* t = find(static_cast<errc>(ev));
        return std::string(t != nullptr ? t->message : "unknown error");
    }
};

} // namespace

std::string_view to_string(errc e) noexcept {
    const errc_text* t = find(e);
    return t != nullptr ? t->name : "unknown";
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
