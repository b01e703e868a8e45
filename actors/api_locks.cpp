#include "actors/api_locks.hpp"
#include "actors/tracked.hpp"

#include <algorithm>
#include <chrono>

#include <caf/event_based_actor.hpp>

#include "actors/locks.hpp"

namespace castor {

namespace {

/// How long an API request actor waits for the lock actor beyond wait_ms.
constexpr std::chrono::seconds lock_answer_margin{5};

api::error lock_error(const std::string& code, const std::string& name,
                      uint64_t wait_ms) {
  if (code == "LOCK_TIMEOUT")
    return {code, wait_ms == 0 ? "'" + name + "' is held by another session"
                               : "'" + name + "' was not granted within "
                                     + std::to_string(wait_ms) + " ms"};
  if (code == "LOCK_QUEUE_FULL")
    return {code, "'" + name + "' has " + std::to_string(max_lock_waiters)
                      + " sessions waiting already"};
  if (code == "TOO_MANY_LOCKS")
    return {code, "the session holds or waits for "
                      + std::to_string(max_session_locks) + " locks already"};
  return {code, "'" + name + "'"};
}

const api::error locks_unavailable{"UNAVAILABLE",
                                   "the locks did not answer in time"};

void collect(const update_constraint& c, std::vector<std::string>& out) {
  if (c.what == update_constraint::kind::locked
      && std::find(out.begin(), out.end(), c.text) == out.end())
    out.push_back(c.text);
  for (auto& p : c.parts)
    collect(p, out);
}

} // namespace

std::vector<std::string> lock_names(const update_constraint& c) {
  std::vector<std::string> out;
  collect(c, out);
  return out;
}

void run_acquire(caf::event_based_actor* self, const api_context& ctx,
                 api::acquire_lock a,
                 caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.locks || ctx.session.empty())
    return finish(api::error_answer(locks_unavailable));
  auto name = a.name;
  auto wait_ms = a.wait_ms;
  tracked(self->request(ctx.locks,
                        std::chrono::milliseconds(wait_ms) + lock_answer_margin,
                        lock_acquire_atom::value, a.name, ctx.session,
                        ctx.connection, a.wait_ms,
                        a.release_on == api::lock_release::disconnect))
      .then(
          [=](std::string& code, uint64_t token) mutable {
            if (code.empty())
              return finish(api::ok_answer({{"token", token}}));
            finish(api::error_answer(lock_error(code, name, wait_ms)));
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(locks_unavailable));
          });
}

void run_release(caf::event_based_actor* self, const api_context& ctx,
                 api::release_lock r,
                 caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.locks || ctx.session.empty())
    return finish(api::error_answer(locks_unavailable));
  auto name = r.name;
  tracked(self->request(ctx.locks, lock_answer_margin, lock_release_atom::value,
                        r.name, ctx.session))
      .then(
          [=](bool held) mutable {
            if (held)
              return finish(api::ok_answer());
            finish(api::error_answer(
                {"NOT_LOCKED", "the session does not hold '" + name + "'"}));
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(locks_unavailable));
          });
}

} // namespace castor
