#pragma once

#include "fake_priava.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>
#include <string>

namespace priava_tokend::testing {

namespace detail {
struct control_api_state;
}

/// Remote control of a `fake_priava` for tests in other processes: HTTP/1.1 over a Unix socket,
/// e.g. `curl --unix-socket DIR/control.sock http://fake/stats`.
///
/// | request | effect |
/// |---|---|
/// | `POST /code` | 200, body: a new authorization code (no newline) |
/// | `POST /expires_in` | body: whole seconds for tokens issued from now on |
/// | `POST /faults` | body: JSON array of faults (see `parse_faults`), appended in order |
/// | `DELETE /faults` | drops every pending fault |
/// | `POST /revoke` | the current refresh token stops working |
/// | `POST /revoke-access` | every access token issued so far stops working (API 401s) |
/// | `POST /rate-limit` | body `LIMIT WINDOW_MS` (`450 300000`; limit 0: none) |
/// | `GET /stats` | JSON of `fake_priava_stats` plus `pending_faults`, `listening`, `port` |
/// | `GET /refresh_token` | the current refresh token (test-only; empty when none) |
/// | `GET /issued` | JSON of every code, refresh and access token handed out (leak scans) |
/// | `POST /stop-listening` | `fake_priava::stop()`: new connections are refused |
/// | `POST /start-listening` | listens again on the same port |
/// | `POST /certificate` | body `server`, `wrong-host`, `expired` or `untrusted`: the |
/// |   | certificate new TLS connections get (needs `on_certificate`) |
///
/// Answers are `text/plain` (`ok`, or the error) unless said otherwise; bad input is a 400, an
/// unknown path 404, a wrong method 405. Single-threaded like the fake, on the same executor.
class control_api {
  public:
    /// `fake` must outlive this object.
    control_api(boost::asio::any_io_executor ex, fake_priava& fake, std::string socket_path);
    ~control_api();
    control_api(const control_api&) = delete;
    control_api& operator=(const control_api&) = delete;

    /// Replaces a stale socket file, binds with mode 0600 and starts accepting. Throws
    /// `boost::system::system_error` when the socket cannot be bound.
    void start();
    /// Closes the socket and its connections and removes the socket file.
    void stop();

    /// What `POST /certificate` does: switch to the named certificate, returning an empty string
    /// or why not.
    void on_certificate(std::function<std::string(std::string_view)> switch_to);

  private:
    std::shared_ptr<detail::control_api_state> state_;
};

} // namespace priava_tokend::testing
