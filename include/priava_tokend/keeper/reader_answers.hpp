#pragma once

#include <priava_tokend/keeper/keeper_fsm.hpp>
#include <priava_tokend/keeper/token_answer.hpp>

#include <chrono>
#include <optional>

namespace priava_tokend {

/// What a reader of the socket API gets from the keeper as it stands: pure functions of its
/// state, so that tests check every answer with the state machine stepped by hand.

/// The keeper's status as `/v1/status`, the metrics and the supervisor report it.
keeper_status status_of(const keeper_fsm& k);

/// The token if usable with `min_left` to spare, else the refusal and its Retry-After.
token_answer current_answer(const keeper_fsm& k, std::chrono::seconds min_left = {});

/// The refusal once Priava rejected the credential and the held token is spent.
token_answer reauth_refusal(const keeper_fsm& k);

/// Before waiting, a `min_ttl` reader may be answered at once: the token is good enough, the
/// credential is dead, or a token just refreshed still lives shorter than asked.
std::optional<token_answer> min_ttl_answer_now(const keeper_fsm& k, std::chrono::seconds min_ttl);

/// A waiting `min_ttl` reader's answer once the keeper changed, or at its deadline
/// (`deadline_passed`); nothing while it should keep waiting.
std::optional<token_answer> min_ttl_answer(const keeper_fsm& k, const keeper_fsm::ticket& t,
                                           std::chrono::seconds min_ttl, bool deadline_passed);

/// A forced refresh answered at once: a refresh finished in the last 10 s is reused; a dead
/// credential is said to be dead.
std::optional<token_answer> forced_refresh_answer_now(const keeper_fsm& k);

/// A waiting forced refresh's answer, as for `min_ttl_answer`.
std::optional<token_answer> forced_refresh_answer(const keeper_fsm& k, const keeper_fsm::ticket& t,
                                                  bool deadline_passed);

/// A long poll's answer: a token newer than `generation`, or at the deadline the current one.
std::optional<token_answer> newer_than_answer(const keeper_fsm& k, std::uint64_t generation,
                                              bool deadline_passed);

} // namespace priava_tokend
