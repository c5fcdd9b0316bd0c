#include <priava_tokend/core/json_object.hpp>
#include <priava_tokend/keeper/delegated_write.hpp>
#include <priava_tokend/keeper/state_after.hpp>
#include <priava_tokend/keeper/state_codec.hpp>
#include <priava_tokend/keeper/state_file.hpp>
#include <priava_tokend/keeper/state_lock.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>

namespace priava_tokend {
namespace {

namespace json = boost::json;

failure not_written(const std::string& why) {
    return make_failure(errc::state_write_failed, "the token request process did not write the "
                                                  "state: " +
                                                      why);
}

/// The state the outcome leads to, or nothing when it brings nothing to store.
std::optional<stored_tokens> state_after(const delegated_write& w, const token_outcome& result) {
    if (const auto* t = std::get_if<token_set>(&result)) {
        return state_after_tokens(
            w.before, *t, t->received_at.value_or(std::chrono::system_clock::now()), w.code_digest);
    }
    const auto* f = std::get_if<transient_failure>(&result);
    if (f != nullptr && f->rotated_refresh_token) {
        return state_after_rotation(w.before, *f->rotated_refresh_token, w.code_digest);
    }
    return std::nullopt;
}

} // namespace

secret encode_delegated_write(const delegated_write& write) {
    json::object o;
    o["path"] = write.path;
    o["fingerprint"] = write.fingerprint;
    o["code_digest"] = write.code_digest;
    // No state before the first code exchange: nothing to carry over.
    if (!write.before.refresh_token.empty()) {
        o["before"] = encode_state(write.before, write.fingerprint).reveal();
    }
    return secret{json::serialize(o)};
}

outcome<delegated_write> decode_delegated_write(std::string_view text) {
    const auto o = parse_json_object(text);
    const auto* path = o ? string_field(*o, "path") : nullptr;
    const auto* fingerprint = o ? string_field(*o, "fingerprint") : nullptr;
    const auto* digest = o ? string_field(*o, "code_digest") : nullptr;
    if (path == nullptr || path->empty() || fingerprint == nullptr || digest == nullptr) {
        return not_written("its order lacks path, fingerprint or code_digest");
    }
    delegated_write w{std::string(*path), std::string(*fingerprint), {}, std::string(*digest)};
    if (const auto* before = string_field(*o, "before")) {
        auto decoded = decode_state(*before, w.fingerprint);
        if (!decoded) {
            return not_written("the state before in its order " + decoded.error().message);
        }
        w.before = std::move(*decoded);
    }
    return w;
}

outcome<void> perform_delegated_write(std::string_view order, const token_outcome& result,
                                      int lock_fd) {
    const auto w = decode_delegated_write(order);
    if (!w) {
        return w.error();
    }
    const auto next = state_after(*w, result);
    if (!next) {
        return not_written("the answer brings nothing to store");
    }
    if (!state_lock::held_through(lock_fd, w->path)) {
        return not_written("it does not hold the lock on " + w->path + ".lock");
    }
    return write_state_file(w->path, encode_state(*next, w->fingerprint));
}

} // namespace priava_tokend
