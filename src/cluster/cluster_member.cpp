#include <priava_tokend/cluster/cluster_member.hpp>
#include <priava_tokend/core/parse_number.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <openssl/rand.h>

#include <array>
#include <cstdlib>

#include <unistd.h>

namespace priava_tokend {
namespace {

using steady = std::chrono::steady_clock;

std::string host_name() {
    std::array<char, 256> buf{};
    if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') {
        return "node";
    }
    return buf.data();
}

/// Eight hex digits, new at every start: a node's writes of this run are told from its
/// writes of an earlier one.
std::string incarnation() {
    std::array<unsigned char, 4> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        bytes = {0, 0, 0, 1};
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char b : bytes) {
        out.push_back(hex[b >> 4]);
        out.push_back(hex[b & 0x0F]);
    }
    return out;
}

} // namespace

cluster_member::cluster_member(net::any_io_executor ex, const config::cluster_section& settings,
                               milliseconds request_timeout, etcd_options etcd, state_cipher cipher,
                               std::string fingerprint, token_store& local, const logger& log)
    : ex_(ex)
    , settings_(settings)
    , request_timeout_(request_timeout)
    , etcd_(ex, std::move(etcd))
    , cipher_(std::move(cipher))
    , fingerprint_(std::move(fingerprint))
    , local_(local)
    , log_(log)
    , prefix_("/priava-tokend/" + settings.name + "/")
    , holder_((settings.node.empty() ? host_name() : settings.node) + "/" + incarnation())
    , wake_(ex) {}

std::chrono::milliseconds cluster_member::tick_interval() const {
    return std::clamp(settings_.lease_ttl / 4, milliseconds{250}, milliseconds{2'000});
}

cluster_status cluster_member::status() const {
    cluster_status s;
    s.etcd_up = etcd_up_;
    s.leader = leader_name_;
    // The leader holds the leader key on a live lease, also while another node's intent keeps it
    // from refreshing.
    s.role = leading_ ? "leader" : leader_name_.empty() ? "candidate" : "follower";
    return s;
}

void cluster_member::etcd_down(const failure& f) {
    if (etcd_up_ || last_etcd_error_.empty()) {
        log_.warning(f.message + "; serving the held token, no refresh until etcd answers");
    }
    etcd_up_ = false;
    last_etcd_error_ = f.message;
}

std::optional<shared_record> cluster_member::decode(const etcd_kv& kv) {
    auto r = decode_shared_record(kv.value, cipher_, fingerprint_);
    if (!r) {
        if (r.error().message != last_decode_error_) {
            log_.error(r.error().message);
            last_decode_error_ = r.error().message;
        }
        return std::nullopt;
    }
    last_decode_error_.clear();
    return std::move(*r);
}

// --- joining -----------------------------------------------------------------------------------

net::awaitable<void> cluster_member::seed(const stored_tokens& local) {
    const shared_record r{local.generation, shared_record::phase::ready, holder_, local};
    const std::vector<etcd_compare> absent{
        {prefix_ + "state", etcd_compare::field::create_revision, 0, {}}};
    const std::vector<etcd_write> put_state{
        {prefix_ + "state", encode_shared_record(r, cipher_, fingerprint_), 0}};
    auto put = co_await etcd_.txn(absent, put_state);
    if (put && put->succeeded) {
        log_.info("cluster: stored this node's generation " + std::to_string(r.generation) +
                  " as the shared state");
    }
}

net::awaitable<void> cluster_member::put_back_newer(const stored_tokens& local) {
    shared_record newer{local.generation, shared_record::phase::ready, holder_, local};
    const std::vector<etcd_compare> unchanged{
        {prefix_ + "state", etcd_compare::field::mod_revision, state_rev_, {}}};
    const std::vector<etcd_write> put_state{
        {prefix_ + "state", encode_shared_record(newer, cipher_, fingerprint_), 0}};
    auto put = co_await etcd_.txn(unchanged, put_state);
    if (put && put->succeeded) {
        log_.warning("cluster: recovered generation " + std::to_string(newer.generation) +
                     " from this node's state file over etcd's generation " +
                     std::to_string(record_->generation));
        seen_value_ = *put_state.front().value;
        state_rev_ = put->revision;
        record_ = std::move(newer);
    }
}

net::awaitable<outcome<std::optional<stored_tokens>>>
cluster_member::join(std::optional<stored_tokens> local) {
    log_.info("cluster mode: node " + std::string(holder_node(holder_)) + ", credential '" +
              settings_.name + "', etcd " + etcd_.current_endpoint() + ", key " + cipher_.key_id());
    auto kv = co_await etcd_.get(prefix_ + "state");
    if (!kv) {
        etcd_down(kv.error());
        co_return local;
    }
    etcd_up_ = true;
    if (!*kv) {
        if (local) { // the first node of a cluster brings its credential along
            co_await seed(*local);
        }
        co_return local;
    }
    auto r = decode_shared_record((*kv)->value, cipher_, fingerprint_);
    if (!r) {
        co_return make_failure(r.error().code == make_error_code(errc::state_foreign)
                                   ? errc::state_foreign
                                   : errc::state_corrupt,
                               r.error().message + "; this node does not serve until that is "
                                                   "fixed (the same encryption_key_file and "
                                                   "[priava] settings on every node)");
    }
    state_rev_ = (*kv)->mod_revision;
    seen_value_ = (*kv)->value;
    record_ = std::move(*r);
    const bool mine_before = record_->state == shared_record::phase::refreshing &&
                             holder_node(record_->holder) == holder_node(holder_) &&
                             record_->holder != holder_;
    if (local && local->generation > record_->generation &&
        (record_->state == shared_record::phase::ready || mine_before)) {
        // This node fetched newer tokens than etcd holds: its last refresh before it stopped,
        // or etcd was restored from an older snapshot. A lower generation is never taken.
        co_await put_back_newer(*local);
    }
    if (record_->tokens && (!local || record_->tokens->generation > local->generation)) {
        co_return record_->tokens;
    }
    co_return local;
}

// --- the node's life ---------------------------------------------------------------------------

net::awaitable<void> cluster_member::run(token_keeper& keeper) {
    keeper_ = &keeper;
    keeper.set_refresher(false);
    keeper.on_ask_leader([this](std::uint64_t generation) {
        if (!asking_) {
            asking_ = true;
            net::co_spawn(ex_, ask_leader(generation), net::detached);
        }
    });
    while (!stopping_) {
        co_await tick();
        if (stopping_) {
            break;
        }
        if (etcd_up_ && state_rev_ != 0) {
            // Wakes at the next change of the state key, or after one tick.
            auto change = co_await etcd_.watch_once(prefix_ + "state", state_rev_, tick_interval());
            if (!change && !stopping_) {
                // A member without quorum, a compacted revision: the tick's reads tell which; the
                // next watch waits for it.
                wake_.expires_after(tick_interval());
                co_await wake_.async_wait(use_nothrow);
            }
        } else {
            wake_.expires_after(tick_interval());
            co_await wake_.async_wait(use_nothrow);
        }
    }
    keeper.set_refresher(false);
    if (lease_ != 0) {
        co_await etcd_.revoke_lease(lease_); // the next leader need not wait for the lease
    }
    etcd_.close();
}

void cluster_member::stop() {
    stopping_ = true;
    wake_.cancel();
    etcd_.cancel_watch();
}

net::awaitable<void> cluster_member::tick() {
    const bool leased = co_await keep_lease();
    if (!leased) {
        decide_role();
        co_return;
    }
    co_await elect();
    co_await read_state();
    decide_role();
    co_await answer_asks(); // once the role is decided: a leader that may refresh answers
}

net::awaitable<bool> cluster_member::keep_lease() {
    const auto sent = steady::now();
    const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(settings_.lease_ttl);
    if (lease_ == 0) {
        auto id = co_await etcd_.grant_lease(ttl);
        if (!id) {
            etcd_down(id.error());
            co_return false;
        }
        lease_ = *id;
        lease_until_ = sent + ttl;
    } else {
        auto left = co_await etcd_.keep_alive(lease_);
        if (!left) {
            etcd_down(left.error());
            co_return false;
        }
        if (left->count() <= 0) {
            log_.warning("cluster: this node's lease expired; taking a new one");
            lease_ = 0;
            leader_rev_ = 0;
            co_return false;
        }
        lease_until_ = sent + *left;
    }
    if (!etcd_up_ && !last_etcd_error_.empty()) {
        log_.info("cluster: etcd answers again (" + etcd_.current_endpoint() + ")");
    }
    etcd_up_ = true;
    co_return true;
}

net::awaitable<void> cluster_member::elect() {
    const std::string key = prefix_ + "leader";
    auto kv = co_await etcd_.get(key);
    if (!kv) {
        etcd_down(kv.error());
        co_return;
    }
    if (*kv) {
        leader_name_ = std::string(holder_node((*kv)->value));
        leader_holder_ = (*kv)->value;
        leader_rev_ = (*kv)->lease == lease_ ? (*kv)->create_revision : 0;
        co_return;
    }
    const std::vector<etcd_compare> free{{key, etcd_compare::field::create_revision, 0, {}}};
    const std::vector<etcd_write> take{{key, holder_, lease_}};
    auto won = co_await etcd_.txn(free, take);
    if (!won) {
        etcd_down(won.error());
        co_return;
    }
    if (won->succeeded) {
        leader_rev_ = won->revision;
        leader_name_ = std::string(holder_node(holder_));
        leader_holder_ = holder_;
        log_.info("cluster: this node is the leader now");
    }
}

net::awaitable<void> cluster_member::read_state() {
    auto kv = co_await etcd_.get(prefix_ + "state");
    if (!kv) {
        etcd_down(kv.error());
        co_return;
    }
    if (!*kv) {
        record_.reset();
        state_rev_ = 0;
        seen_value_.clear();
        co_return;
    }
    if ((*kv)->mod_revision != state_rev_ || !record_) {
        auto r = decode(**kv);
        if (!r) {
            co_return;
        }
        record_ = std::move(*r);
        state_rev_ = (*kv)->mod_revision;
        seen_value_ = (*kv)->value;
    }
    if (record_->tokens && record_->generation > keeper_->stored_generation()) {
        keeper_->shared_state(*record_->tokens);
        if (keeper_->stored_generation() == record_->generation) {
            auto saved = co_await local_.save(*record_->tokens);
            if (!saved) {
                log_.error("cluster: " + saved.error().message);
            }
        }
    } else if (record_->generation < keeper_->stored_generation() &&
               record_->state == shared_record::phase::ready && !keeper_->request_in_flight()) {
        log_.warning("cluster: etcd holds generation " + std::to_string(record_->generation) +
                     ", older than this node's " + std::to_string(keeper_->stored_generation()) +
                     " (restored from an old snapshot?); not taken");
    }
}

net::awaitable<void> cluster_member::answer_asks() {
    if (leader_rev_ == 0 || !keeper_->refresher()) {
        co_return; // the ask stays for the node that may refresh
    }
    const std::string key = prefix_ + "wanted";
    auto kv = co_await etcd_.get(key);
    if (!kv || !*kv) {
        co_return;
    }
    const auto wanted = parse_number<std::uint64_t>((*kv)->value);
    const std::vector<etcd_compare> unchanged{
        {key, etcd_compare::field::mod_revision, (*kv)->mod_revision, {}}};
    const std::vector<etcd_write> remove{{key, std::nullopt, 0}};
    co_await etcd_.txn(unchanged, remove);
    if (wanted && *wanted >= keeper_->stored_generation()) {
        log_.info("cluster: a follower asked for a token newer than generation " +
                  std::to_string(*wanted));
        keeper_->refresh_now();
    }
}

net::awaitable<void> cluster_member::ask_leader(std::uint64_t generation) {
    const std::vector<etcd_compare> always;
    const std::vector<etcd_write> ask{{prefix_ + "wanted", std::to_string(generation), 0}};
    co_await etcd_.txn(always, ask);
    asking_ = false;
    wake_.cancel();
}

void cluster_member::decide_role() {
    const auto now = steady::now();
    const bool lease_ok = lease_ != 0 && now + tick_interval() < lease_until_;
    const bool leading = etcd_up_ && lease_ok && leader_rev_ != 0;
    leading_ = leading;
    bool blocked = false;
    if (record_ && record_->state == shared_record::phase::rejected) {
        if (!foreign_ || foreign_->revision != state_rev_) {
            foreign_ = foreign_intent{state_rev_, now, true};
            keeper_->chain_lost("Priava rejected the cluster's refresh token (at node " +
                                std::string(holder_node(record_->holder)) + ")");
        }
    } else if (record_ && record_->state == shared_record::phase::refreshing &&
               record_->holder != holder_) {
        // Another node's token request may be in flight, its refresh token spent already:
        // nobody sends it again. Once the holder had time to commit and did not, the chain is
        // lost; a new code then starts another one, over the dead intent.
        // The same node restarted is another holder: its earlier run's intent is as dead.
        const bool holder_leads = record_->holder == leader_holder_;
        if (!foreign_ || foreign_->revision != state_rev_ ||
            (holder_leads && !foreign_->reported)) {
            foreign_ = foreign_intent{state_rev_, now, false}; // a live leader may take its time
        } else if (!foreign_->reported &&
                   now - foreign_->seen > request_timeout_ + settings_.lease_ttl) {
            foreign_->reported = true;
            keeper_->chain_lost("node " + std::string(holder_node(record_->holder)) +
                                " sent a token request to Priava and stopped before committing "
                                "its answer; the refresh token it used may be spent");
        }
        blocked = !foreign_->reported;
    } else {
        foreign_.reset();
    }
    if (leading && !keeper_->refresher() && !blocked) {
        log_.info("cluster: leading; this node refreshes the credential");
    } else if (!leading && keeper_->refresher()) {
        log_.warning("cluster: no longer leading (" +
                     std::string(etcd_up_ ? "the lease or the leader key was lost"
                                          : "etcd does not answer") +
                     "); this node stops refreshing");
    }
    keeper_->set_refresher(leading && !blocked);
}

// --- the fences ------------------------------------------------------------------------------

net::awaitable<outcome<void>> cluster_member::begin_request() {
    if (keeper_ == nullptr || !keeper_->refresher() || leader_rev_ == 0) {
        co_return make_failure(errc::server_error,
                               "this node is not the cluster's leader; no token request sent");
    }
    co_return co_await begin_intent(true);
}

net::awaitable<outcome<void>> cluster_member::begin_bootstrap() {
    co_return co_await begin_intent(false);
}

net::awaitable<outcome<std::optional<shared_record>>> cluster_member::read() {
    auto leader = co_await etcd_.get(prefix_ + "leader");
    if (!leader) {
        co_return leader.error();
    }
    leader_name_ = *leader ? std::string(holder_node((*leader)->value)) : std::string{};
    leader_holder_ = *leader ? (*leader)->value : std::string{};
    auto kv = co_await etcd_.get(prefix_ + "state");
    if (!kv) {
        co_return kv.error();
    }
    if (!*kv) {
        record_.reset();
        state_rev_ = 0;
        seen_value_.clear();
        co_return std::optional<shared_record>{};
    }
    auto r = decode_shared_record((*kv)->value, cipher_, fingerprint_);
    if (!r) {
        co_return r.error();
    }
    record_ = *r;
    state_rev_ = (*kv)->mod_revision;
    seen_value_ = (*kv)->value;
    co_return std::optional<shared_record>{std::move(*r)};
}

net::awaitable<outcome<void>> cluster_member::abandon_intent() {
    if (intent_rev_ == 0) {
        co_return outcome<void>{};
    }
    const std::vector<etcd_compare> ours{
        {prefix_ + "state", etcd_compare::field::mod_revision, intent_rev_, {}}};
    std::vector<etcd_write> restore{{prefix_ + "state", replaced_, 0}};
    if (replaced_.empty()) {
        restore.front().value.reset(); // there was no state before: remove the intent
    }
    auto put = co_await etcd_.txn(ours, restore);
    intent_rev_ = 0;
    if (!put) {
        co_return put.error();
    }
    if (put->succeeded) {
        state_rev_ = replaced_.empty() ? 0 : put->revision;
        seen_value_ = std::move(replaced_);
        replaced_.clear();
        auto before = seen_value_.empty() ? std::optional<shared_record>{}
                                          : decode(etcd_kv{{}, seen_value_, 0, state_rev_, 0});
        record_ = std::move(before);
    }
    co_return outcome<void>{};
}

net::awaitable<outcome<void>> cluster_member::mark_rejected() {
    if (intent_rev_ == 0) {
        co_return outcome<void>{};
    }
    shared_record dead{record_ ? record_->generation : 0, shared_record::phase::rejected, holder_,
                       std::nullopt};
    const std::vector<etcd_compare> ours{
        {prefix_ + "state", etcd_compare::field::mod_revision, intent_rev_, {}}};
    const std::vector<etcd_write> put_dead{
        {prefix_ + "state", encode_shared_record(dead, cipher_, fingerprint_), 0}};
    auto put = co_await etcd_.txn(ours, put_dead);
    intent_rev_ = 0;
    if (!put) {
        co_return put.error();
    }
    if (put->succeeded) {
        seen_value_ = *put_dead.front().value;
        state_rev_ = put->revision;
        record_ = std::move(dead);
    }
    co_return outcome<void>{};
}

net::awaitable<outcome<void>> cluster_member::begin_intent(bool as_leader) {
    shared_record intent;
    intent.generation = record_ ? record_->generation : 0;
    intent.state = shared_record::phase::refreshing;
    intent.holder = holder_;
    intent.tokens = record_ ? record_->tokens : std::nullopt;
    std::vector<etcd_compare> fence{
        {prefix_ + "state", etcd_compare::field::mod_revision, state_rev_, {}}};
    if (as_leader) {
        fence.push_back(
            {prefix_ + "leader", etcd_compare::field::create_revision, leader_rev_, {}});
    }
    const std::vector<etcd_write> put_intent{
        {prefix_ + "state", encode_shared_record(intent, cipher_, fingerprint_), 0}};
    auto put = co_await etcd_.txn(fence, put_intent);
    if (!put) {
        etcd_down(put.error());
        co_return make_failure(errc::server_error, "cannot record the refresh in etcd (" +
                                                       put.error().message +
                                                       "); no token request sent");
    }
    if (!put->succeeded) {
        leader_rev_ = 0;
        wake_.cancel();
        co_return make_failure(errc::server_error,
                               "the cluster's state moved or this node lost the lead; no token "
                               "request sent");
    }
    replaced_ = std::move(seen_value_);
    seen_value_ = *put_intent.front().value;
    state_rev_ = intent_rev_ = put->revision;
    record_ = std::move(intent);
    if (exit_after_intent_) {
        std::_Exit(1);
    }
    co_return outcome<void>{};
}

net::awaitable<outcome<void>> cluster_member::commit(const stored_tokens& tokens) {
    shared_record r{tokens.generation, shared_record::phase::ready, holder_, tokens};
    std::vector<etcd_compare> fence{{prefix_ + "state",
                                     etcd_compare::field::mod_revision,
                                     intent_rev_ != 0 ? intent_rev_ : state_rev_,
                                     {}}};
    if (intent_rev_ == 0) {
        fence.push_back(
            {prefix_ + "leader", etcd_compare::field::create_revision, leader_rev_, {}});
    }
    const std::vector<etcd_write> put_state{
        {prefix_ + "state", encode_shared_record(r, cipher_, fingerprint_), 0}};
    auto put = co_await etcd_.txn(fence, put_state);
    if (!put) {
        etcd_down(put.error());
        co_return make_failure(errc::state_write_failed,
                               "generation " + std::to_string(tokens.generation) +
                                   " not committed to etcd (" + put.error().message + ")");
    }
    if (!put->succeeded) {
        // An earlier try may have applied before its answer was lost.
        auto now = co_await etcd_.get(prefix_ + "state");
        if (now && *now) {
            if (auto seen = decode(**now); seen && seen->holder == holder_ &&
                                           seen->generation == tokens.generation &&
                                           seen->state == shared_record::phase::ready) {
                state_rev_ = (*now)->mod_revision;
                seen_value_ = (*now)->value;
                intent_rev_ = 0;
                record_ = std::move(*seen);
                co_return outcome<void>{};
            }
        }
        co_return make_failure(errc::state_write_failed,
                               "generation " + std::to_string(tokens.generation) +
                                   " not committed: the cluster's state moved on meanwhile");
    }
    state_rev_ = put->revision;
    seen_value_ = *put_state.front().value;
    intent_rev_ = 0;
    record_ = std::move(r);
    co_return outcome<void>{};
}

} // namespace priava_tokend
