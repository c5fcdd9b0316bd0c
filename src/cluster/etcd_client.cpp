#include <priava_tokend/cluster/etcd_client.hpp>
#include <priava_tokend/core/base64.hpp>
#include <priava_tokend/core/parse_number.hpp>
#include <priava_tokend/priava/https_connector.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace priava_tokend {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using steady = std::chrono::steady_clock;

/// Answers larger than this are not etcd's to one of our calls.
constexpr std::size_t max_answer = 1024 * 1024;

failure etcd_failure(errc e, const std::string& where, std::string what) {
    return make_failure(e, "etcd " + where + ": " + std::move(what));
}

/// etcd's int64 fields come as JSON strings ("42"), and are left out when zero.
std::int64_t int_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr) {
        return 0;
    }
    if (const auto* s = v->if_string()) {
        return parse_number<std::int64_t>(*s).value_or(0);
    }
    if (const auto* i = v->if_int64()) {
        return *i;
    }
    return 0;
}

std::optional<etcd_kv> read_kv(const json::object& o) {
    etcd_kv kv;
    const auto* key = o.if_contains("key");
    const auto* value = o.if_contains("value");
    auto k = key != nullptr && key->is_string() ? decode_base64(key->get_string())
                                                : std::optional<std::string>{};
    auto v = value == nullptr     ? std::optional<std::string>{std::string{}}
             : value->is_string() ? decode_base64(value->get_string())
                                  : std::nullopt;
    if (!k || !v) {
        return std::nullopt;
    }
    kv.key = std::move(*k);
    kv.value = std::move(*v);
    kv.create_revision = int_field(o, "create_revision");
    kv.mod_revision = int_field(o, "mod_revision");
    kv.lease = int_field(o, "lease");
    return kv;
}

std::int64_t header_revision(const json::object& o) {
    const auto* h = o.if_contains("header");
    return h != nullptr && h->is_object() ? int_field(h->get_object(), "revision") : 0;
}

std::string number_text(std::int64_t n) {
    return std::to_string(n);
}

json::object compare_json(const etcd_compare& c) {
    json::object o;
    o["key"] = encode_base64(c.key);
    o["result"] = "EQUAL";
    switch (c.what) {
    case etcd_compare::field::create_revision:
        o["target"] = "CREATE";
        o["create_revision"] = number_text(c.revision);
        break;
    case etcd_compare::field::mod_revision:
        o["target"] = "MOD";
        o["mod_revision"] = number_text(c.revision);
        break;
    case etcd_compare::field::value:
        o["target"] = "VALUE";
        o["value"] = encode_base64(c.value);
        break;
    }
    return o;
}

json::object write_json(const etcd_write& w) {
    json::object inner;
    inner["key"] = encode_base64(w.key);
    json::object o;
    if (w.value) {
        inner["value"] = encode_base64(*w.value);
        if (w.lease != 0) {
            inner["lease"] = number_text(w.lease);
        }
        o["request_put"] = std::move(inner);
    } else {
        o["request_delete_range"] = std::move(inner);
    }
    return o;
}

/// etcd's error answer: `{"error": ..., "code": N, "message": ...}`.
std::string error_text(const json::value& v, unsigned status) {
    if (const auto* o = v.if_object()) {
        for (const char* name : {"message", "error"}) {
            if (const auto* m = o->if_contains(name); m != nullptr && m->is_string()) {
                return std::string(m->get_string().subview(0, 200));
            }
        }
    }
    return "HTTP status " + std::to_string(status);
}

/// The request every call sends: JSON, and the header that makes a member without quorum say so
/// at once instead of after its own 5-7 s timeout.
http::request<http::string_body> make_request(const etcd_endpoint& ep, std::string_view path,
                                              std::string body, const std::string& auth_token) {
    http::request<http::string_body> req{http::verb::post, path, 11};
    req.set(http::field::host, ep.host_header);
    req.set(http::field::content_type, "application/json");
    req.set("Grpc-Metadata-hasleader", "true");
    if (!auth_token.empty()) {
        req.set(http::field::authorization, auth_token);
    }
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

using etcd_stream = beast::ssl_stream<beast::tcp_stream>;

net::awaitable<boost::system::error_code> write_request(etcd_stream& s, bool tls,
                                                        http::request<http::string_body>& req) {
    boost::system::error_code ec;
    if (tls) {
        std::tie(ec, std::ignore) = co_await http::async_write(s, req, use_nothrow);
    } else {
        std::tie(ec, std::ignore) =
            co_await http::async_write(beast::get_lowest_layer(s), req, use_nothrow);
    }
    co_return ec;
}

/// The whole answer (`whole`), or what has arrived of a streamed one.
net::awaitable<boost::system::error_code>
read_answer(etcd_stream& s, bool tls, beast::flat_buffer& buffer,
            http::response_parser<http::string_body>& parser, bool whole = true) {
    boost::system::error_code ec;
    auto& tcp = beast::get_lowest_layer(s);
    if (tls && whole) {
        std::tie(ec, std::ignore) = co_await http::async_read(s, buffer, parser, use_nothrow);
    } else if (tls) {
        std::tie(ec, std::ignore) = co_await http::async_read_some(s, buffer, parser, use_nothrow);
    } else if (whole) {
        std::tie(ec, std::ignore) = co_await http::async_read(tcp, buffer, parser, use_nothrow);
    } else {
        std::tie(ec, std::ignore) =
            co_await http::async_read_some(tcp, buffer, parser, use_nothrow);
    }
    co_return ec;
}

/// The JSON of a 200, or what etcd said instead. A member without quorum is `connection_lost`:
/// another member may have it.
outcome<json::value> answer_of(const http::response<http::string_body>& res,
                               const std::string& url) {
    boost::system::error_code parse_ec;
    json::value v = json::parse(res.body(), parse_ec);
    if (parse_ec) {
        return etcd_failure(errc::malformed_response, url,
                            "answered " + std::to_string(res.result_int()) +
                                " with a body that is not JSON");
    }
    if (res.result() == http::status::ok) {
        return v;
    }
    const std::string said = error_text(v, res.result_int());
    const bool unavailable = res.result_int() == 503 || res.result_int() == 504 ||
                             res.result_int() == 401 || said.find("no leader") != std::string::npos;
    return etcd_failure(unavailable ? errc::connection_lost : errc::server_error, url, said);
}

} // namespace

struct etcd_client::connection {
    connection(net::any_io_executor ex, net::ssl::context& tls, std::size_t member)
        : stream(ex, tls)
        , endpoint(member) {}
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    std::size_t endpoint;
};

etcd_client::etcd_client(net::any_io_executor ex, etcd_options options)
    : ex_(std::move(ex))
    , options_(std::move(options)) {
    if (!options_.tls) {
        options_.tls = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
    }
}

etcd_client::~etcd_client() = default;

const std::string& etcd_client::current_endpoint() const {
    return options_.endpoints.at(current_).url;
}

void etcd_client::close() {
    idle_.clear();
    cancel_watch();
}

void etcd_client::cancel_watch() {
    if (watching_ != nullptr) {
        beast::get_lowest_layer(watching_->stream).close();
    }
}

net::awaitable<outcome<boost::json::value>> etcd_client::call(std::string_view path,
                                                              const json::value& body,
                                                              bool may_repeat,
                                                              milliseconds timeout) {
    const std::string text = json::serialize(body);
    std::optional<failure> last;
    for (std::size_t tried = 0; tried < options_.endpoints.size(); ++tried) {
        std::unique_ptr<connection> c;
        if (!idle_.empty() && idle_.back()->endpoint == current_) {
            c = std::move(idle_.back());
            idle_.pop_back();
        } else {
            idle_.clear();
            c = std::make_unique<connection>(ex_, *options_.tls, current_);
        }
        auto answer = co_await call_on(*c, path, text, timeout);
        if (answer) {
            idle_.push_back(std::move(c));
            co_return answer;
        }
        last = answer.error();
        // A refusal by a member that answered is the cluster's answer; only a member that did
        // not answer is left for the next one.
        const bool unanswered = answer.error().code != make_error_code(errc::server_error) &&
                                answer.error().code != make_error_code(errc::rejected);
        if (!unanswered || !may_repeat) {
            if (unanswered) {
                current_ = (current_ + 1) % options_.endpoints.size();
            }
            co_return *last;
        }
        current_ = (current_ + 1) % options_.endpoints.size();
    }
    co_return *last;
}

net::awaitable<outcome<void>> etcd_client::authenticate(connection& c) {
    auth_token_.clear();
    json::object body;
    body["name"] = *options_.username;
    body["password"] = std::string(options_.password.reveal());
    auto answer =
        co_await call_on(c, "/v3/auth/authenticate", json::serialize(body), options_.call_timeout);
    if (!answer) {
        co_return answer.error();
    }
    const auto* token = answer->is_object() ? answer->get_object().if_contains("token") : nullptr;
    if (token == nullptr || !token->is_string()) {
        co_return etcd_failure(errc::malformed_response, options_.endpoints[c.endpoint].url,
                               "authentication answered without a token");
    }
    auth_token_ = std::string(token->get_string());
    co_return outcome<void>{};
}

net::awaitable<outcome<void>> etcd_client::open(connection& c, steady_deadline until,
                                                bool with_auth) {
    const etcd_endpoint& ep = options_.endpoints[c.endpoint];
    auto& tcp = beast::get_lowest_layer(c.stream);
    token_endpoint where{ep.tls, ep.host, ep.port, "/", ep.host_header};
    auto resolved = co_await https_connector::resolve(where, until);
    if (auto* f = std::get_if<transient_failure>(&resolved)) {
        co_return etcd_failure(f->reason, ep.url, f->detail);
    }
    const auto& results = std::get<0>(resolved);
    if (auto f = co_await https_connector::connect(tcp, results, until, ep.url)) {
        co_return etcd_failure(f->reason, ep.url, f->detail);
    }
    if (ep.tls) {
        if (auto f = co_await https_connector::handshake(c.stream, ep.host, until, ep.url)) {
            co_return etcd_failure(f->reason, ep.url, f->detail);
        }
    }
    if (options_.username && with_auth) {
        co_return co_await authenticate(c);
    }
    co_return outcome<void>{};
}

net::awaitable<outcome<boost::json::value>> etcd_client::call_on(connection& c,
                                                                 std::string_view path,
                                                                 const std::string& body,
                                                                 milliseconds timeout) {
    const etcd_endpoint& ep = options_.endpoints[c.endpoint];
    const auto until = steady::now() + timeout;
    auto& tcp = beast::get_lowest_layer(c.stream);
    const bool authenticating = path == "/v3/auth/authenticate";
    if (!tcp.socket().is_open()) {
        auto opened = co_await open(c, until, !authenticating);
        if (!opened) {
            co_return opened.error();
        }
    }
    auto req = make_request(ep, path, body, authenticating ? std::string{} : auth_token_);
    tcp.expires_at(until);
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_answer);
    auto ec = co_await write_request(c.stream, ep.tls, req);
    if (!ec) {
        ec = co_await read_answer(c.stream, ep.tls, c.buffer, parser);
    }
    if (ec) {
        tcp.close();
        const bool late = https_connector::timed_out(ec, until);
        co_return etcd_failure(late ? errc::request_timeout : errc::connection_lost, ep.url,
                               late ? "no answer within " + format_duration(timeout)
                                    : "connection lost: " + ec.message());
    }
    tcp.expires_never();
    auto answer = answer_of(parser.get(), ep.url);
    if (!answer || !parser.get().keep_alive()) {
        tcp.close();
    }
    if (!answer && parser.get().result() == http::status::unauthorized) {
        auth_token_.clear(); // expired: the next connection authenticates again
    }
    co_return answer;
}

net::awaitable<outcome<std::optional<etcd_kv>>> etcd_client::get(const std::string& key) {
    json::object body;
    body["key"] = encode_base64(key);
    auto answer = co_await call("/v3/kv/range", body, true, options_.call_timeout);
    if (!answer) {
        co_return answer.error();
    }
    const auto* o = answer->if_object();
    const auto* kvs = o != nullptr ? o->if_contains("kvs") : nullptr;
    if (kvs == nullptr) {
        co_return std::optional<etcd_kv>{};
    }
    if (!kvs->is_array() || kvs->get_array().empty() || !kvs->get_array()[0].is_object()) {
        co_return etcd_failure(errc::malformed_response, current_endpoint(),
                               "range answered without a readable key-value");
    }
    auto kv = read_kv(kvs->get_array()[0].get_object());
    if (!kv) {
        co_return etcd_failure(errc::malformed_response, current_endpoint(),
                               "range answered a key or value that is not base64");
    }
    co_return kv;
}

net::awaitable<outcome<etcd_txn_result>> etcd_client::txn(const std::vector<etcd_compare>& compares,
                                                          const std::vector<etcd_write>& writes) {
    json::array cmp;
    for (const auto& c : compares) {
        cmp.push_back(compare_json(c));
    }
    json::array success;
    for (const auto& w : writes) {
        success.push_back(write_json(w));
    }
    json::object body;
    body["compare"] = std::move(cmp);
    body["success"] = std::move(success);
    auto answer = co_await call("/v3/kv/txn", body, false, options_.call_timeout);
    if (!answer) {
        co_return answer.error();
    }
    const auto* o = answer->if_object();
    if (o == nullptr) {
        co_return etcd_failure(errc::malformed_response, current_endpoint(),
                               "txn answered something other than an object");
    }
    const auto* ok = o->if_contains("succeeded");
    co_return etcd_txn_result{ok != nullptr && ok->is_bool() && ok->get_bool(),
                              header_revision(*o)};
}

net::awaitable<outcome<std::int64_t>> etcd_client::grant_lease(std::chrono::seconds ttl) {
    json::object body;
    body["TTL"] = number_text(ttl.count());
    auto answer = co_await call("/v3/lease/grant", body, true, options_.call_timeout);
    if (!answer) {
        co_return answer.error();
    }
    const std::int64_t id = answer->is_object() ? int_field(answer->get_object(), "ID") : 0;
    if (id == 0) {
        co_return etcd_failure(errc::malformed_response, current_endpoint(),
                               "lease grant answered without an ID");
    }
    co_return id;
}

net::awaitable<outcome<std::chrono::seconds>> etcd_client::keep_alive(std::int64_t lease) {
    json::object body;
    body["ID"] = number_text(lease);
    auto answer = co_await call("/v3/lease/keepalive", body, true, options_.call_timeout);
    if (!answer) {
        co_return answer.error();
    }
    // A stream of one message: {"result": {"ID": ..., "TTL": ...}}; TTL left out when expired.
    const auto* o = answer->if_object();
    const auto* result = o != nullptr ? o->if_contains("result") : nullptr;
    if (result == nullptr || !result->is_object()) {
        co_return etcd_failure(errc::malformed_response, current_endpoint(),
                               "lease keep-alive answered without a result");
    }
    co_return std::chrono::seconds{int_field(result->get_object(), "TTL")};
}

net::awaitable<outcome<void>> etcd_client::revoke_lease(std::int64_t lease) {
    json::object body;
    body["ID"] = number_text(lease);
    auto answer = co_await call("/v3/lease/revoke", body, true, options_.call_timeout);
    if (!answer) {
        co_return answer.error();
    }
    co_return outcome<void>{};
}

namespace {

/// The first event of a watch stream's messages (one JSON object a line), if one has come.
std::optional<etcd_client::change> first_event(std::string_view lines, bool& bad) {
    while (!lines.empty()) {
        const auto end = lines.find('\n');
        if (end == std::string_view::npos) {
            return std::nullopt; // the rest of the message is still coming
        }
        boost::system::error_code ec;
        const json::value v = json::parse(lines.substr(0, end), ec);
        lines.remove_prefix(end + 1);
        const auto* o = ec ? nullptr : v.if_object();
        const auto* result = o != nullptr ? o->if_contains("result") : nullptr;
        if (result == nullptr || !result->is_object()) {
            bad = true;
            return std::nullopt;
        }
        const auto& r = result->get_object();
        if (r.contains("compact_revision") || r.contains("canceled")) {
            bad = true;
            return std::nullopt;
        }
        const auto* events = r.if_contains("events");
        if (events == nullptr || !events->is_array() || events->get_array().empty()) {
            continue; // the "created" message, or progress
        }
        const auto& last = events->get_array().back();
        const auto* kv = last.is_object() ? last.get_object().if_contains("kv") : nullptr;
        const auto* type = last.is_object() ? last.get_object().if_contains("type") : nullptr;
        etcd_client::change c;
        c.revision = header_revision(r);
        if (type != nullptr && type->is_string() && type->get_string() == "DELETE") {
            return c;
        }
        if (kv == nullptr || !kv->is_object() || !(c.kv = read_kv(kv->get_object()))) {
            bad = true;
            return std::nullopt;
        }
        return c;
    }
    return std::nullopt;
}

} // namespace

net::awaitable<outcome<std::optional<etcd_client::change>>>
etcd_client::watch_once(const std::string& key, std::int64_t after_revision, milliseconds wait) {
    json::object create;
    create["key"] = encode_base64(key);
    create["start_revision"] = number_text(after_revision + 1);
    json::object body;
    body["create_request"] = std::move(create);
    connection c(ex_, *options_.tls, current_);
    const etcd_endpoint& ep = options_.endpoints[current_];
    watching_ = &c;
    struct unwatch {
        connection*& w;
        ~unwatch() { w = nullptr; }
    } unwatch_at_end{watching_};
    // A unary call first: it connects (and authenticates) the way every call does.
    auto ready = co_await call_on(c, "/v3/maintenance/status", "{}", options_.call_timeout);
    if (!ready) {
        current_ = (current_ + 1) % options_.endpoints.size();
        co_return ready.error();
    }
    // The header ends the stream when the member loses quorum.
    auto req = make_request(ep, "/v3/watch", json::serialize(body), auth_token_);
    auto& tcp = beast::get_lowest_layer(c.stream);
    const auto until = steady::now() + wait;
    tcp.expires_at(until);
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_answer);
    auto ec = co_await write_request(c.stream, ep.tls, req);
    while (!ec && !parser.is_done()) {
        ec = co_await read_answer(c.stream, ep.tls, c.buffer, parser, false);
        if (ec || !parser.is_header_done()) {
            continue;
        }
        bool bad = parser.get().result() != http::status::ok;
        auto event = bad ? std::nullopt : first_event(parser.get().body(), bad);
        if (bad) { // a member without quorum, a compacted revision, a refusal
            current_ = (current_ + 1) % options_.endpoints.size();
            co_return etcd_failure(errc::connection_lost, ep.url,
                                   "the watch was refused or ended by the member");
        }
        if (event) {
            co_return event;
        }
    }
    if (ec && !https_connector::timed_out(ec, until) && ec != net::error::operation_aborted &&
        ec != net::error::bad_descriptor) {
        current_ = (current_ + 1) % options_.endpoints.size();
        co_return etcd_failure(errc::connection_lost, ep.url, "watch ended: " + ec.message());
    }
    co_return std::optional<change>{};
}

} // namespace priava_tokend
