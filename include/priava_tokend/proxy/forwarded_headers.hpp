#pragma once

#include <boost/beast/http/fields.hpp>

#include <string>
#include <string_view>

namespace priava_tokend {

/// The app's request headers that go on to Priava: every end-to-end header but those the daemon
/// owns. Dropped: the hop-by-hop headers of RFC 9110 §7.6.1 (`Connection` and every header it
/// names, `Keep-Alive`, `Proxy-Connection`, `Proxy-Authorization`, `TE`, `Trailer`,
/// `Transfer-Encoding`, `Upgrade`), `Host`, `Content-Length` and `Expect` (the daemon frames the
/// body it holds whole), `Authorization` and `TenantRegion` (the daemon sets its own), and the
/// daemon's `Priava-Tokend-*` headers. Appended to `to` as `Name: value\r\n` lines in the app's
/// order (fields of one name kept together, in their order), for a head written by hand.
void append_request_headers(const boost::beast::http::fields& from, std::string& to);

/// Priava's response headers that go back to the app: every one but the hop-by-hop headers
/// (and those `Connection` names), `Content-Length` and `Transfer-Encoding`, which the daemon
/// sets for the body as it relays it.
void copy_response_headers(const boost::beast::http::fields& from, boost::beast::http::fields& to);

/// The same response headers as `Name: value\r\n` lines appended to a head written by hand (the
/// relay's, which builds no `fields` of its own).
void append_response_headers(const boost::beast::http::fields& from, std::string& to);

} // namespace priava_tokend
