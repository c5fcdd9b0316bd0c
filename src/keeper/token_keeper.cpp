#include <priava_tokend/config/secret_file.hpp>
#include <priava_tokend/keeper/reader_answers.hpp>
#include <priava_tokend/keeper/token_keeper.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>

namespace priava_tokend {
namespace {

using std::chrono::seconds;

/// By-value parameters keep the client alive through a reload during the request.
net::awaitable<token_outcome> send(std::shared_ptr<const token_client> client, secret body,
                                   std::optional<secret> store) {
    if (store) {
        co_return co_await client->request_and_store(body, *store);
    }
    co_return co_await client->request(body);
}

net::awaitable<outcome<secret>> read_code(std::string path) {
    co_return read_secret_file(path, "the authorization code file (bootstrap.code_file)", false,
                               environment{});
}

transient_failure unexpected(std::string_view what) {
    return transient_failure{errc::connection_lost, std::string(what) + " failed unexpectedly", 0,
                             std::nullopt, std::nullopt};
}

} // namespace

token_keeper::token_keeper(net::any_io_executor ex, net::any_io_executor blocking,
                           keeper_settings settings, token_store& store, const logger& log)
    : ex_(ex)
    , blocking_(std::move(blocking))
    , store_(store)
    , log_(log)
    , fsm_(std::move(settings), store.name(), clock_, random_)
    , timer_(ex) {}

void token_keeper::adopt(stored_tokens tokens) {
    apply(fsm_.start_with_tokens(std::move(tokens)));
}

void token_keeper::begin_with_code(secret code) {
    apply(fsm_.start_with_code(std::move(code)));
}

void token_keeper::stop() {
    apply(fsm_.shutdown());
}

void token_keeper::reconfigure(keeper_settings settings) {
    apply(fsm_.reconfigure(std::move(settings)));
}

net::awaitable<void> token_keeper::run() {
    while (!finished_) {
        timer_.expires_at(timer_at_);
        auto [ec] = co_await timer_.async_wait(use_nothrow);
        if (!ec && !finished_) {
            timer_at_ = steady_time::max(); // spent; the state machine arms it again
            apply(fsm_.timer_fired());
        }
    }
}

void token_keeper::apply(keeper_actions actions) {
    for (auto& action : actions) {
        std::visit([this](auto& a) { carry_out(a); }, action);
    }
}

void token_keeper::carry_out(keeper_do::request_token& request) {
    const auto& s = fsm_.settings();
    auto store = store_.delegated_write_order(request.before, request.code_digest);
    net::co_spawn(ex_,
                  send(s.client,
                       token_request_body(s.credentials, request.grant, request.credential),
                       std::move(store)),
                  [this](std::exception_ptr e, token_outcome outcome) {
                      if (e) {
                          outcome = unexpected("the token request");
                      }
                      apply(fsm_.token_response(std::move(outcome)));
                  });
}

void token_keeper::carry_out(keeper_do::write_state& write) {
    net::co_spawn(ex_, store_.save(std::move(write.tokens)),
                  [this](std::exception_ptr e, outcome<void> written) {
                      if (e) {
                          written = make_failure(errc::state_write_failed,
                                                 store_.name() + ": the write failed unexpectedly");
                      }
                      apply(written ? fsm_.state_written()
                                    : fsm_.state_write_failed(written.error().message));
                  });
}

void token_keeper::carry_out(const keeper_do::read_code_file& read) {
    // The file may sit on a slow mount: read it off the event loop.
    net::co_spawn(blocking_, read_code(read.path),
                  net::bind_executor(ex_, [this](std::exception_ptr e, outcome<secret> code) {
                      if (e) {
                          code = make_failure(errc::file_unreadable, "reading it failed");
                      }
                      apply(fsm_.code_file_read(std::move(code)));
                  }));
}

void token_keeper::carry_out(const keeper_do::arm_timer& arm) {
    timer_at_ = arm.at;
    timer_.cancel();
}

void token_keeper::carry_out(const keeper_do::report_status&) {
    if (on_change_) {
        on_change_();
    }
}

void token_keeper::carry_out(const keeper_do::finish&) {
    finished_ = true;
    timer_.cancel();
}

// --- readers -----------------------------------------------------------------------------------

token_answer token_keeper::current(seconds min_left) const {
    return current_answer(fsm_, min_left);
}

net::awaitable<token_answer> token_keeper::wait_for(const answer_check& answer,
                                                    steady_time deadline) {
    for (;;) {
        if (auto a = answer(false)) {
            co_return std::move(*a);
        }
        const bool woken = co_await readers_.wait_until(deadline);
        if (!woken) { // the deadline passed, or the connection is being closed
            co_return *answer(true);
        }
    }
}

net::awaitable<token_answer> token_keeper::token_with_ttl(seconds min_ttl) {
    auto arrival = fsm_.reader_with_min_ttl(min_ttl);
    apply(std::move(arrival.actions));
    if (arrival.answer) {
        co_return std::move(*arrival.answer);
    }
    const answer_check answer = [this, t = arrival.waiting, min_ttl](bool deadline_passed) {
        return min_ttl_answer(fsm_, t, min_ttl, deadline_passed);
    };
    co_return co_await wait_for(answer, clock_.now() + fsm_.settings().refresh.request_timeout);
}

net::awaitable<token_answer> token_keeper::token_newer_than(std::uint64_t generation,
                                                            milliseconds wait) {
    const answer_check answer = [this, generation](bool deadline_passed) {
        return newer_than_answer(fsm_, generation, deadline_passed);
    };
    co_return co_await wait_for(answer, clock_.now() + wait);
}

net::awaitable<token_answer> token_keeper::refreshed_token() {
    auto arrival = fsm_.forced_refresh();
    apply(std::move(arrival.actions));
    if (arrival.answer) {
        co_return std::move(*arrival.answer);
    }
    const answer_check answer = [this, t = arrival.waiting](bool deadline_passed) {
        return forced_refresh_answer(fsm_, t, deadline_passed);
    };
    co_return co_await wait_for(answer, clock_.now() + fsm_.settings().refresh.request_timeout);
}

net::awaitable<token_answer> token_keeper::bootstrap(secret code, bool force) {
    auto arrival = fsm_.bootstrap_code(std::move(code), force);
    apply(std::move(arrival.actions));
    if (arrival.answer) {
        co_return std::move(*arrival.answer);
    }
    const answer_check answer = [this, t = arrival.waiting](bool deadline_passed) {
        return fsm_.take_bootstrap_answer(t, deadline_passed);
    };
    // The exchange may wait for a refresh in flight first: two requests, and room to write.
    co_return co_await wait_for(answer, clock_.now() + 2 * fsm_.settings().refresh.request_timeout +
                                            seconds{5});
}

} // namespace priava_tokend
