#include <priava_tokend/cluster/etcd_budget.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <deque>

namespace priava_tokend {
namespace {

namespace json = boost::json;
using wall = std::chrono::system_clock;
using steady = std::chrono::steady_clock;

/// Transactions lost to another node's draw before this one gives up for the moment.
constexpr int max_races = 20;

std::int64_t wall_ms(wall::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

wall::time_point from_ms(std::int64_t ms) {
    return wall::time_point{std::chrono::milliseconds{ms}};
}

/// The key's value; an absent or unreadable one is an empty window (the budget then errs by at
/// most one window's worth, once).
struct window_state {
    std::deque<std::int64_t> sent;
    std::int64_t paused_until = 0;
    std::int64_t revision = 0; ///< 0: the key does not exist
};

window_state parse_state(const std::optional<etcd_kv>& kv) {
    window_state s;
    if (!kv) {
        return s;
    }
    s.revision = kv->mod_revision;
    boost::system::error_code ec;
    const json::value v = json::parse(kv->value, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (o == nullptr) {
        return s;
    }
    if (const auto* sent = o->if_contains("sent"); sent != nullptr && sent->is_array()) {
        for (const auto& t : sent->get_array()) {
            if (t.is_int64()) {
                s.sent.push_back(t.get_int64());
            }
        }
        std::sort(s.sent.begin(), s.sent.end());
    }
    if (const auto* p = o->if_contains("paused_until"); p != nullptr && p->is_int64()) {
        s.paused_until = p->get_int64();
    }
    return s;
}

std::string serialize_state(const window_state& s) {
    json::array sent;
    for (const auto t : s.sent) {
        sent.push_back(t);
    }
    return json::serialize(
        json::object{{"sent", std::move(sent)}, {"paused_until", s.paused_until}});
}

} // namespace

etcd_budget::etcd_budget(net::any_io_executor ex, etcd_options etcd, const std::string& name,
                         std::size_t budget, milliseconds window)
    : etcd_(std::move(ex), std::move(etcd))
    , key_("/priava-tokend/" + name + "/budget")
    , budget_(budget)
    , window_(window) {}

net::awaitable<shared_window::draw_result> etcd_budget::draw(steady::time_point until) {
    net::steady_timer timer(co_await net::this_coro::executor);
    for (int races = 0;;) {
        auto kv = co_await etcd_.get(key_);
        if (!kv) {
            co_return draw_result{false, true, wall::now() + std::chrono::seconds{1}};
        }
        window_state s = parse_state(*kv);
        const std::int64_t now = wall_ms(wall::now());
        while (!s.sent.empty() && s.sent.front() <= now - window_.count()) {
            s.sent.pop_front();
        }
        std::int64_t free_at = 0;
        if (s.paused_until > now) {
            free_at = s.paused_until;
        } else if (s.sent.size() >= budget_) {
            free_at = s.sent.front() + window_.count();
        } else if (races < max_races) {
            s.sent.push_back(now);
            const std::vector<etcd_compare> unchanged{
                {key_, etcd_compare::field::mod_revision, s.revision, {}}};
            const std::vector<etcd_write> put{{key_, serialize_state(s), 0}};
            auto done = co_await etcd_.txn(unchanged, put);
            if (!done) {
                co_return draw_result{false, true, wall::now() + std::chrono::seconds{1}};
            }
            if (done->succeeded) {
                co_return draw_result{true, false, {}};
            }
            ++races; // another node drew first: look again
            continue;
        } else {
            free_at = now + 50; // many nodes at once: let them pass
            races = 0;
        }
        const auto wait = std::chrono::milliseconds{free_at - now};
        if (steady::now() + wait > until) {
            co_return draw_result{false, false, from_ms(free_at)};
        }
        // At most a second at a time: a pause or a window may change meanwhile.
        timer.expires_after(std::min<steady::duration>(wait, std::chrono::seconds{1}));
        co_await timer.async_wait(use_nothrow);
    }
}

net::awaitable<void> etcd_budget::pause(wall::time_point until) {
    for (int races = 0; races < max_races; ++races) {
        auto kv = co_await etcd_.get(key_);
        if (!kv) {
            co_return;
        }
        window_state s = parse_state(*kv);
        if (s.paused_until >= wall_ms(until)) {
            co_return;
        }
        s.paused_until = wall_ms(until);
        const std::vector<etcd_compare> unchanged{
            {key_, etcd_compare::field::mod_revision, s.revision, {}}};
        const std::vector<etcd_write> put{{key_, serialize_state(s), 0}};
        auto done = co_await etcd_.txn(unchanged, put);
        if (!done || done->succeeded) {
            co_return;
        }
    }
}

} // namespace priava_tokend
