#include <priava_tokend/proxy/request_budget.hpp>

#include <algorithm>
#include <iterator>

namespace priava_tokend {

using clock = request_budget::clock;

void request_budget::forget_old_sends(clock::time_point now) const {
    while (!sends_.empty() && sends_.front() + limits_.window <= now) {
        sends_.pop_front();
    }
}

std::size_t request_budget::in_window(clock::time_point now) const {
    forget_old_sends(now);
    return sends_.size();
}

std::optional<request_budget::ticket> request_budget::arrive(std::string_view client,
                                                             clock::time_point, bool first) {
    if (!first && queued_ >= limits_.max_queued) {
        return std::nullopt;
    }
    const ticket t = next_ticket_++;
    ++queued_;
    if (first) {
        first_.push_back(t);
        return t;
    }
    auto it = std::find_if(rotation_.begin(), rotation_.end(),
                           [&](const waiting_client& c) { return c.name == client; });
    if (it == rotation_.end()) {
        if (spare_clients_.empty()) {
            it = rotation_.insert(rotation_.end(), waiting_client{std::string(client), {}});
        } else {
            rotation_.splice(rotation_.end(), spare_clients_, spare_clients_.begin());
            it = std::prev(rotation_.end());
            it->name.assign(client);
        }
    }
    it->tickets.push_back(t);
    return t;
}

request_budget::ticket request_budget::arrive_again() {
    const ticket t = next_ticket_++;
    ++queued_;
    again_.push_back(t);
    return t;
}

std::optional<request_budget::ticket> request_budget::next_in_line() {
    for (auto* line : {&first_, &again_}) {
        if (!line->empty()) {
            const ticket t = line->front();
            line->pop_front();
            return t;
        }
    }
    if (rotation_.empty()) {
        return std::nullopt;
    }
    // Round-robin: the client at the head sends one, then goes to the back if it has more.
    waiting_client& turn = rotation_.front();
    const ticket t = turn.tickets.front();
    turn.tickets.pop_front();
    if (turn.tickets.empty()) {
        retire(rotation_.begin());
    } else {
        rotation_.splice(rotation_.end(), rotation_, rotation_.begin());
    }
    return t;
}

void request_budget::retire(std::list<waiting_client>::iterator c) {
    spare_clients_.splice(spare_clients_.end(), rotation_, c);
}

bool request_budget::land(ticket t) {
    const auto it = std::find(in_flight_tickets_.begin(), in_flight_tickets_.end(), t);
    if (it == in_flight_tickets_.end()) {
        return false;
    }
    *it = in_flight_tickets_.back();
    in_flight_tickets_.pop_back();
    --in_flight_;
    return true;
}

const std::vector<request_budget::ticket>& request_budget::grant(clock::time_point now) {
    auto& granted = granted_;
    granted.clear();
    forget_old_sends(now);
    if (pause_until_ && now < *pause_until_) {
        return granted;
    }
    pause_until_.reset();
    while (sends_.size() < limits_.budget) {
        // A token request takes no slot of max_concurrent: API calls holding every slot while
        // they wait for a new token must not keep that token from being fetched.
        const bool token_request = !first_.empty();
        if (!token_request && in_flight_ >= limits_.max_concurrent) {
            break;
        }
        const auto t = next_in_line();
        if (!t) {
            break;
        }
        --queued_;
        if (!token_request) {
            ++in_flight_;
            in_flight_tickets_.push_back(*t);
        }
        sends_.push_back(now);
        granted.push_back(*t);
    }
    return granted;
}

clock::time_point request_budget::next_grant(clock::time_point now) const {
    if (queued_ == 0 || (first_.empty() && in_flight_ >= limits_.max_concurrent)) {
        return clock::time_point::max(); // an arrival or a finish is the signal
    }
    if (pause_until_ && now < *pause_until_) {
        return *pause_until_;
    }
    forget_old_sends(now);
    if (sends_.size() >= limits_.budget) {
        return sends_.front() + limits_.window;
    }
    return now;
}

void request_budget::finished(ticket t) {
    land(t);
}

void request_budget::rate_limited(ticket t, clock::time_point now, clock::time_point until) {
    const auto earliest = now + std::chrono::seconds{1};
    const auto latest = now + limits_.window;
    const auto clamped = std::clamp(until, earliest, std::max(earliest, latest));
    pause_until_ = std::max(pause_until_.value_or(clamped), clamped);
    if (land(t)) {
        ++queued_;
        again_.push_front(t);
    }
}

void request_budget::remove(ticket t) {
    for (auto* line : {&first_, &again_}) {
        if (const auto it = std::find(line->begin(), line->end(), t); it != line->end()) {
            line->erase(it);
            --queued_;
            return;
        }
    }
    for (auto c = rotation_.begin(); c != rotation_.end(); ++c) {
        if (const auto it = std::find(c->tickets.begin(), c->tickets.end(), t);
            it != c->tickets.end()) {
            c->tickets.erase(it);
            --queued_;
            if (c->tickets.empty()) {
                retire(c);
            }
            return;
        }
    }
}

void request_budget::leave(ticket t) {
    remove(t);
}

bool request_budget::waiting(ticket t) const {
    const auto in = [t](const std::deque<ticket>& line) {
        return std::find(line.begin(), line.end(), t) != line.end();
    };
    return in(first_) || in(again_) ||
           std::any_of(rotation_.begin(), rotation_.end(),
                       [&](const waiting_client& c) { return in(c.tickets); });
}

std::optional<clock::time_point> request_budget::paused_until(clock::time_point now) const {
    if (pause_until_ && now < *pause_until_) {
        return pause_until_;
    }
    return std::nullopt;
}

std::chrono::seconds request_budget::retry_after(clock::time_point now) const {
    auto when = now;
    if (pause_until_ && now < *pause_until_) {
        when = *pause_until_;
    }
    forget_old_sends(now);
    if (sends_.size() >= limits_.budget) {
        // The waiting requests go first: a slot for a newcomer comes after theirs.
        const std::size_t ahead = std::min(queued_, sends_.size() - 1);
        when = std::max(when, sends_[ahead] + limits_.window);
    }
    return std::max(std::chrono::seconds{1}, std::chrono::ceil<std::chrono::seconds>(when - now));
}

} // namespace priava_tokend
