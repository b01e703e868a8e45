#include "actors/census.hpp"
#include "actors/api_messaging.hpp"

#include <chrono>

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include "actors/messaging.hpp"

namespace castor {

namespace {

const api::error handlers_unavailable{
    "UNAVAILABLE", "message handlers are not available on this connection"};

/// The answer's payload as JSON: parsed when its content type says JSON or
/// it parses, else a string.
nlohmann::json answer_json(const handler_answer& a) {
  auto j = nlohmann::json::parse(a.payload, nullptr, false);
  if (!j.is_discarded())
    return j;
  return nlohmann::json(a.payload);
}

} // namespace

void run_add_handler(caf::event_based_actor* self, const api_context& ctx,
                     const api::add_handler& a,
                     caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.handlers || !ctx.connection)
    return finish(api::error_answer(handlers_unavailable));
  if (ctx.access && !ctx.access->may_register_handler())
    return finish(api::error_answer(
        {"PERMISSION_DENIED",
         "registering a message handler needs REGISTER_HANDLER"}));
  switch (ctx.handlers->add(a.path, ctx.connection)) {
  case handlers_table::add_result::too_many:
    return finish(api::error_answer(
        {"TOO_MANY_HANDLERS",
         "a connection may register at most "
             + std::to_string(handlers_table::default_max_per_owner)
             + " message handlers"}));
  case handlers_table::add_result::exists:
    return finish(api::ok_answer({{"added", false}}));
  default:
    return finish(api::ok_answer({{"added", true}}));
  }
}

void run_remove_handler(caf::event_based_actor* self, const api_context& ctx,
                        const api::remove_handler& r,
                        caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.handlers || !ctx.connection)
    return finish(api::error_answer(handlers_unavailable));
  if (!ctx.handlers->remove(r.path, ctx.connection))
    return finish(api::error_answer(
        {"NOT_REGISTERED",
         "this connection has no handler for '" + r.path + "'"}));
  finish(api::ok_answer());
}

void run_send_message(caf::event_based_actor* self, const api_context& ctx,
                      api::send_message s,
                      caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (ctx.access && !ctx.access->may_send_to_handler(s.path))
    return finish(api::error_answer(
        {"PERMISSION_DENIED", "sending to the message handler of '" + s.path
                                  + "' needs SEND_TO_MESSAGE_HANDLER"}));
  std::optional<caf::actor> handler;
  if (ctx.handlers)
    handler = ctx.handlers->pick(s.path);
  if (!handler)
    return finish(api::error_answer(
        {"NO_HANDLER", "no message handler serves '" + s.path + "'"}));
  handler_request req;
  req.path = s.path;
  req.payload = s.value.dump(-1, ' ', false,
                             nlohmann::json::error_handler_t::replace);
  req.props.content_type = "application/json";
  req.props.payload_format_indicator = 1;
  req.requester = caf::actor_cast<caf::actor>(self);
  req.timeout_ms = ctx.request_timeout_ms;
  self->send(*handler, msg_request_atom::value, std::move(req));
  // The handler's connection answers within the timeout (or says why
  // not); this guard covers a connection that had already gone.
  auto guard = std::chrono::milliseconds(ctx.request_timeout_ms)
               + std::chrono::seconds(2);
  self->delayed_send(self, guard, msg_timeout_atom::value, uint64_t{0});
  self->become(counted(
      self, metrics::actor_kind::api_request,
      caf::behavior{[=](msg_answer_atom, handler_answer& a) mutable {
                      if (!a.error.empty()) {
                        auto j
                            = nlohmann::json::parse(a.payload, nullptr, false);
                        if (j.is_object())
                          return finish(j.dump());
                        return finish(api::error_answer({a.error, a.payload}));
                      }
                      finish(api::ok_answer({{"answer", answer_json(a)}}));
                    },
                    [=](msg_timeout_atom, uint64_t) mutable {
                      finish(api::error_answer(
                          {"HANDLER_GONE", "the message handler of '" + s.path
                                               + "' did not answer"}));
                    }}));
}

} // namespace castor
