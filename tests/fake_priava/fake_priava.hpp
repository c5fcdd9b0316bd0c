#pragma once

#include "fake_priava_options.hpp"
#include "fault.hpp"
#include "token_grants.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace priava_tokend::testing {

namespace detail {
struct fake_priava_state;
}

/// Priava's token endpoint (`POST` form to `token_path`) exactly as Priava's page documents it,
/// and a few endpoints of its REST API behind bearer tokens (`priava_api.hpp`), served on
/// 127.0.0.1 over HTTPS (or plain HTTP without a TLS context). Strict: anything the page does not
/// show is a 400 in Priava's JSON shape. Refresh tokens rotate on every refresh; a consumed one is
/// refused and counted as reuse. Both count against Priava's rate limit (450 requests per fixed
/// 5-minute window unless set otherwise), answered over it with Priava's 429 body.
///
/// Single-threaded: it runs on the caller's executor, and every member must be called on that
/// executor's thread (in tests: between `run_for` calls on the same `io_context`). Connections
/// still open when the object dies are closed; their coroutines finish on the executor.
class fake_priava {
  public:
    /// `tls` null: plain HTTP. The TLS context and the executor's io_context must outlive this
    /// object.
    fake_priava(boost::asio::any_io_executor ex, boost::asio::ssl::context* tls,
                fake_priava_options options = {});
    ~fake_priava();
    fake_priava(const fake_priava&) = delete;
    fake_priava& operator=(const fake_priava&) = delete;

    /// Binds 127.0.0.1:`port` (0: any free port), starts accepting and returns the port. Does
    /// nothing but return the port while already listening. Throws `boost::system::system_error`
    /// when the port cannot be bound.
    std::uint16_t listen(std::uint16_t port = 0);
    /// The port last bound; 0 before `listen`.
    std::uint16_t port() const noexcept;
    bool listening() const noexcept;

    /// `https://127.0.0.1:PORT/api/rest/oauth/token` (`http://` without TLS).
    std::string token_url() const;
    /// `https://127.0.0.1:PORT/api/rest`: the API's base, as the proxy's `upstream`.
    std::string api_url() const;
    /// `https://127.0.0.1:PORT/api/rest/ping`.
    std::string ping_url() const;

    /// A new valid single-use authorization code (holds `+ / =`).
    std::string issue_code();
    /// `expires_in` of tokens issued from now on.
    void set_expires_in(std::chrono::seconds expires_in);

    /// Appends a fault; faults apply to the next `POST`s to the token path, first in first out.
    void inject(const fault& f);
    void clear_faults();
    std::size_t pending_faults() const noexcept;

    /// The current refresh token becomes invalid (`invalid_grant`) until a code is exchanged.
    void revoke();

    /// Every access token issued so far stops working: the API answers 401 until a new one is
    /// issued.
    void revoke_access_tokens();
    /// The next API calls, one per entry, are answered 429 with Priava's body whose
    /// `retry-after` is the entry as given (any text: a date, garbage), or without the field for
    /// an empty entry. For the proxy's handling of every kind of retry-after.
    void answer_api_429s(std::vector<std::optional<std::string>> retry_afters);
    /// Priava's rate limit from now on (0: none); what the current window counted stays counted.
    void set_rate_limit(unsigned limit, std::chrono::milliseconds window);

    const fake_priava_stats& stats() const noexcept;
    /// For tests that plant a state file; empty when there is none.
    std::string current_refresh_token() const;
    /// Every code and token handed out so far (test-only: leak scans).
    issued_secrets issued() const;

    /// Closes the acceptor and every open connection: from now on connections are refused.
    /// `listen(port())` opens again on the same port.
    void stop();

  private:
    std::shared_ptr<detail::fake_priava_state> state_;
};

} // namespace priava_tokend::testing
