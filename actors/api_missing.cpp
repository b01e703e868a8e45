#include "actors/census.hpp"
#include "actors/api_missing.hpp"

#include <chrono>
#include <memory>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/missing_topics.hpp"

namespace castor {

namespace {

const api::error missing_unavailable{
    "UNAVAILABLE", "missing-topic handlers are not available on this connection"};

} // namespace

void run_add_missing_handler(caf::event_based_actor* self,
                             const api_context& ctx,
                             const api::add_missing_handler& a,
                             caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.missing || !ctx.connection)
    return finish(api::error_answer(missing_unavailable));
  if (ctx.access && !ctx.access->may_register_handler())
    return finish(api::error_answer(
        {"PERMISSION_DENIED",
         "registering a missing-topic handler needs REGISTER_HANDLER"}));
  switch (ctx.missing->handlers.add(a.path, ctx.connection)) {
  case handlers_table::add_result::too_many:
    return finish(api::error_answer(
        {"TOO_MANY_HANDLERS",
         "a connection may register at most "
             + std::to_string(handlers_table::default_max_per_owner)
             + " missing-topic handlers"}));
  case handlers_table::add_result::exists:
    return finish(api::ok_answer({{"added", false}}));
  default:
    return finish(api::ok_answer({{"added", true}}));
  }
}

void run_remove_missing_handler(caf::event_based_actor* self,
                                const api_context& ctx,
                                const api::remove_missing_handler& r,
                                caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.missing || !ctx.connection)
    return finish(api::error_answer(missing_unavailable));
  if (!ctx.missing->handlers.remove(r.path, ctx.connection))
    return finish(api::error_answer(
        {"NOT_REGISTERED",
         "this connection has no missing-topic handler for '" + r.path
             + "'"}));
  finish(api::ok_answer());
}

bool await_missing(caf::event_based_actor* self, const api_context& ctx,
                   const std::string& selector,
                   std::function<void(bool again)> then) {
  if (!ask_missing(ctx.missing, selector, ctx.session, "fetch",
                   caf::actor_cast<caf::actor>(self)))
    return false;
  auto done = std::make_shared<bool>(false);
  auto go = [=](bool again) {
    if (*done)
      return;
    *done = true;
    then(again);
  };
  // The handler's connection answers within the timeout (or says why
  // not); this guard covers a connection that had already gone.
  auto guard = std::chrono::milliseconds(ctx.missing->request_timeout_ms)
               + std::chrono::seconds(2);
  self->delayed_send(self, guard, msg_timeout_atom::value, uint64_t{0});
  self->become(
      counted(self, metrics::actor_kind::api_request,
              caf::behavior{[=](msg_answer_atom, handler_answer& a) {
                              bool again = true;
                              if (a.error.empty()) {
                                auto j = nlohmann::json::parse(a.payload,
                                                               nullptr, false);
                                if (j.is_object() && j.contains("proceed")
                                    && j["proceed"] == false)
                                  again = false;
                              }
                              go(again);
                            },
                            [=](msg_timeout_atom, uint64_t) { go(true); }}));
  return true;
}

} // namespace castor
