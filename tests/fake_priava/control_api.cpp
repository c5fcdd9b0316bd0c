#include "control_api.hpp"

#include <priava_tokend/core/asio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <map>

#include <sys/stat.h>
#include <unistd.h>

namespace priava_tokend::testing {

namespace detail {

namespace beast = boost::beast;
using local = net::local::stream_protocol;

struct control_api_state {
    net::any_io_executor ex;
    fake_priava* fake;
    std::string path;
    std::shared_ptr<local::acceptor> acceptor;
    std::map<std::uint64_t, local::socket*> connections;
    std::uint64_t next_connection = 0;
    std::function<std::string(std::string_view)> switch_certificate{};

    void stop() {
        boost::system::error_code ignored;
        if (acceptor) {
            acceptor->close(ignored);
            acceptor.reset();
            ::unlink(path.c_str());
        }
        for (auto& [id, socket] : connections) {
            socket->shutdown(local::socket::shutdown_both, ignored);
            socket->close(ignored);
        }
    }
};

} // namespace detail

namespace {

using namespace detail;
namespace http = beast::http;
namespace json = boost::json;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;
using stream_type = beast::basic_stream<local>;

constexpr auto io_timeout = std::chrono::seconds{30};
constexpr std::uint32_t head_limit = 8 * 1024;
constexpr std::uint64_t body_limit = 64 * 1024;

response reply(const request& req, http::status status, std::string body,
               std::string_view content_type = "text/plain") {
    response res{status, req.version()};
    res.set(http::field::server, "fake-priava-control");
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

json::object stats_json(const fake_priava& fake) {
    const auto& st = fake.stats();
    json::object by_error;
    for (const auto& [error, count] : st.rejections_by_error) {
        by_error[error] = count;
    }
    json::array names;
    for (const auto& name : st.last_body_field_names) {
        names.emplace_back(name);
    }
    return {{"requests", st.requests},
            {"authorization_code_grants", st.authorization_code_grants},
            {"refresh_grants", st.refresh_grants},
            {"rejections", st.rejections},
            {"rejections_by_error", std::move(by_error)},
            {"reuse_attempts", st.reuse_attempts},
            {"code_rejections", st.code_rejections},
            {"faults_applied", st.faults_applied},
            {"abandoned_requests", st.abandoned_requests},
            {"ping_ok", st.ping_ok},
            {"api_requests", st.api_requests},
            {"api_ok", st.api_ok},
            {"api_unauthorized", st.api_unauthorized},
            {"rate_limited", st.rate_limited},
            {"most_in_window", st.most_in_window},
            {"last_content_type", st.last_content_type},
            {"last_tenant_region", st.last_tenant_region},
            {"last_body_field_names", std::move(names)},
            {"pending_faults", fake.pending_faults()},
            {"listening", fake.listening()},
            {"port", fake.port()}};
}

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
        text.remove_suffix(1);
    }
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
        text.remove_prefix(1);
    }
    return text;
}

response set_expires_in(fake_priava& fake, const request& req) {
    const auto text = trimmed(req.body());
    std::int64_t seconds = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (ec != std::errc{} || end != text.data() + text.size() || seconds < 0) {
        return reply(req, http::status::bad_request, "expires_in must be whole seconds >= 0\n");
    }
    fake.set_expires_in(std::chrono::seconds{seconds});
    return reply(req, http::status::ok, "ok\n");
}

/// A JSON array of retry-after texts (or null for none): the next API calls answer 429.
response answer_api_429s(fake_priava& fake, const request& req) {
    boost::system::error_code ec;
    const auto parsed = json::parse(req.body(), ec);
    if (ec || !parsed.is_array()) {
        return reply(req, http::status::bad_request, "api-429 takes a JSON array\n");
    }
    std::vector<std::optional<std::string>> list;
    for (const auto& v : parsed.as_array()) {
        if (v.is_string()) {
            list.emplace_back(std::string(v.as_string()));
        } else {
            list.emplace_back(std::nullopt);
        }
    }
    fake.answer_api_429s(std::move(list));
    return reply(req, http::status::ok, "ok\n");
}

/// `LIMIT WINDOW_MS`, e.g. `450 300000`; a limit of 0 turns the limit off.
response set_rate_limit(fake_priava& fake, const request& req) {
    const auto text = trimmed(req.body());
    unsigned limit = 0;
    std::int64_t window_ms = 0;
    const char* end = text.data() + text.size();
    auto [after_limit, ec] = std::from_chars(text.data(), end, limit);
    const bool limit_ok = ec == std::errc{} && after_limit < end && *after_limit == ' ';
    const auto parsed = limit_ok ? std::from_chars(after_limit + 1, end, window_ms)
                                 : std::from_chars_result{nullptr, std::errc::invalid_argument};
    if (parsed.ec != std::errc{} || parsed.ptr != end || window_ms <= 0) {
        return reply(req, http::status::bad_request,
                     "rate_limit needs 'LIMIT WINDOW_MS' (whole numbers, window > 0)\n");
    }
    fake.set_rate_limit(limit, std::chrono::milliseconds{window_ms});
    return reply(req, http::status::ok, "ok\n");
}

response add_faults(fake_priava& fake, const request& req) {
    auto faults = parse_faults(req.body());
    if (!faults) {
        return reply(req, http::status::bad_request, faults.error() + "\n");
    }
    for (const auto& f : *faults) {
        fake.inject(f);
    }
    return reply(req, http::status::ok, "ok\n");
}

response start_listening(fake_priava& fake, const request& req) {
    try {
        fake.listen(fake.port());
    } catch (const boost::system::system_error& e) {
        return reply(req, http::status::internal_server_error,
                     std::string("cannot listen again: ") + e.what() + "\n");
    }
    return reply(req, http::status::ok, "ok\n");
}

response handle(fake_priava& fake, const request& req,
                const std::function<std::string(std::string_view)>& switch_certificate) {
    const std::string_view target = req.target();
    const http::verb method = req.method();
    const auto is = [&](std::string_view path, http::verb verb) {
        return target == path && method == verb;
    };
    if (is("/code", http::verb::post)) {
        return reply(req, http::status::ok, fake.issue_code());
    }
    if (is("/expires_in", http::verb::post)) {
        return set_expires_in(fake, req);
    }
    if (is("/faults", http::verb::post)) {
        return add_faults(fake, req);
    }
    if (is("/faults", http::verb::delete_)) {
        fake.clear_faults();
        return reply(req, http::status::ok, "ok\n");
    }
    if (is("/revoke", http::verb::post)) {
        fake.revoke();
        return reply(req, http::status::ok, "ok\n");
    }
    if (is("/revoke-access", http::verb::post)) {
        fake.revoke_access_tokens();
        return reply(req, http::status::ok, "ok\n");
    }
    if (is("/rate-limit", http::verb::post)) {
        return set_rate_limit(fake, req);
    }
    if (is("/api-429", http::verb::post)) {
        return answer_api_429s(fake, req);
    }
    if (is("/stats", http::verb::get)) {
        return reply(req, http::status::ok, json::serialize(stats_json(fake)) + "\n",
                     "application/json");
    }
    if (is("/refresh_token", http::verb::get)) {
        return reply(req, http::status::ok, fake.current_refresh_token());
    }
    if (is("/issued", http::verb::get)) {
        const issued_secrets all = fake.issued();
        const auto list = [](const std::vector<std::string>& v) {
            return json::array(v.begin(), v.end());
        };
        return reply(req, http::status::ok,
                     json::serialize(json::object{{"codes", list(all.codes)},
                                                  {"refresh_tokens", list(all.refresh_tokens)},
                                                  {"access_tokens", list(all.access_tokens)}}),
                     "application/json");
    }
    if (is("/stop-listening", http::verb::post)) {
        fake.stop();
        return reply(req, http::status::ok, "ok\n");
    }
    if (is("/start-listening", http::verb::post)) {
        return start_listening(fake, req);
    }
    if (is("/certificate", http::verb::post)) {
        const std::string why =
            switch_certificate ? switch_certificate(req.body()) : "no certificates to switch to";
        return why.empty() ? reply(req, http::status::ok, "ok\n")
                           : reply(req, http::status::bad_request, why + "\n");
    }
    for (const char* known : {"/code", "/expires_in", "/faults", "/revoke", "/revoke-access",
                              "/rate-limit", "/api-429", "/stats", "/refresh_token", "/issued",
                              "/stop-listening", "/start-listening", "/certificate"}) {
        if (target == known) {
            return reply(req, http::status::method_not_allowed, "wrong method\n");
        }
    }
    return reply(req, http::status::not_found, "no such control endpoint\n");
}

void report_exception(std::exception_ptr e) {
    if (!e) {
        return;
    }
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        std::fprintf(stderr, "fake-priava: control connection failed: %s\n", x.what());
    }
}

/// Keeps the connection's socket known to `stop()` while the session lives.
class connection_entry {
  public:
    connection_entry(control_api_state& s, local::socket& socket)
        : s_(s)
        , id_(s.next_connection++) {
        s_.connections.emplace(id_, &socket);
    }
    connection_entry(const connection_entry&) = delete;
    connection_entry& operator=(const connection_entry&) = delete;
    ~connection_entry() { s_.connections.erase(id_); }

  private:
    control_api_state& s_;
    std::uint64_t id_;
};

net::awaitable<void> session(std::shared_ptr<control_api_state> s, local::socket socket) {
    stream_type stream(std::move(socket));
    const connection_entry entry(*s, stream.socket());
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(head_limit);
        parser.body_limit(body_limit);
        stream.expires_after(io_timeout);
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
        if (ec) {
            break;
        }
        const auto res = handle(*s->fake, parser.get(), s->switch_certificate);
        stream.expires_after(io_timeout);
        auto [write_ec, written] = co_await http::async_write(stream, res, use_nothrow);
        if (write_ec || !res.keep_alive()) {
            break;
        }
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(local::socket::shutdown_send, ignored);
}

net::awaitable<void> accept_loop(std::shared_ptr<control_api_state> s,
                                 std::shared_ptr<local::acceptor> acceptor) {
    while (acceptor->is_open()) {
        auto [ec, socket] = co_await acceptor->async_accept(use_nothrow);
        if (ec == net::error::operation_aborted || !acceptor->is_open()) {
            co_return;
        }
        if (!ec) {
            net::co_spawn(s->ex, session(s, std::move(socket)), report_exception);
        }
    }
}

} // namespace

control_api::control_api(net::any_io_executor ex, fake_priava& fake, std::string socket_path)
    : state_(std::make_shared<control_api_state>(
          control_api_state{std::move(ex), &fake, std::move(socket_path), nullptr, {}, 0, {}})) {}

void control_api::on_certificate(std::function<std::string(std::string_view)> switch_to) {
    state_->switch_certificate = std::move(switch_to);
}

control_api::~control_api() {
    state_->stop();
}

void control_api::start() {
    auto& s = *state_;
    if (s.acceptor) {
        return;
    }
    ::unlink(s.path.c_str());
    auto acceptor = std::make_shared<local::acceptor>(s.ex);
    const local::endpoint endpoint{s.path};
    acceptor->open(endpoint.protocol());
    acceptor->bind(endpoint);
    ::chmod(s.path.c_str(), 0600);
    acceptor->listen();
    s.acceptor = acceptor;
    net::co_spawn(s.ex, accept_loop(state_, std::move(acceptor)), report_exception);
}

void control_api::stop() {
    state_->stop();
}

} // namespace priava_tokend::testing
