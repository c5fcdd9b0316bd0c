#include <priava_tokend/cluster/cluster_token_client.hpp>

namespace priava_tokend {
namespace {

/// True when Priava cannot have used the credential: the request never reached it, its rate
/// limit refused it (a limited request consumes nothing), or it refused a code, which leaves
/// the chain before as it was.
bool left_unused(const token_outcome& outcome, const secret& body) {
    if (const auto* f = std::get_if<transient_failure>(&outcome)) {
        return f->reason == errc::resolve_failed || f->reason == errc::connect_failed ||
               f->reason == errc::tls_failed || f->reason == errc::rate_limited;
    }
    return std::holds_alternative<rejection>(outcome) &&
           body.reveal().find("grant_type=authorization_code") != std::string_view::npos;
}

} // namespace

net::awaitable<token_outcome> cluster_token_client::request(const secret& body) const {
    auto fenced = co_await member_.begin_request();
    if (!fenced) {
        co_return transient_failure{errc::server_error, fenced.error().message, 0, std::nullopt,
                                    std::nullopt};
    }
    token_outcome outcome = co_await inner_->request(body);
    if (left_unused(outcome, body)) {
        co_await member_.abandon_intent(); // the state before stands; nobody waits for ours
    } else if (std::holds_alternative<rejection>(outcome)) {
        co_await member_.mark_rejected(); // the chain is dead: every node says so
    }
    co_return outcome;
}

} // namespace priava_tokend
