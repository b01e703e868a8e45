#include "actors/api_subscribe.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/iface/timeouts.hpp"
#include "protocol/reason_code.hpp"
#include "protocol/topic.hpp"
#include "protocol/topic_selector.hpp"

namespace castor {

namespace {

/// How the session knows the subscription: an MQTT filter subscribes as
/// MQTT does (`$delta/` for deltas); a richer selector by its key.
struct subscription_of {
  std::string key;
  std::string covering; ///< the MQTT filter its rights are checked on
};

subscription_of subscription_for(const std::string& text, bool delta) {
  auto parsed = parse_selector(text);
  auto s = std::get_if<topic_selector>(&parsed);
  if (s == nullptr || s->what() == topic_selector::kind::filter)
    return {delta ? "$delta/" + text : text, text};
  return {selector_key(text, delta),
          s->prefix().empty() ? std::string{"#"} : s->prefix() + "/#"};
}

const api::error no_connection{"UNAVAILABLE",
                               "the session's connection did not answer"};

} // namespace

void run_subscribe(caf::event_based_actor* self, const api_context& ctx,
                   api::subscribe_topics s,
                   caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  auto sub = subscription_for(s.selector, s.delta);
  // As SUBSCRIBE: SELECT_TOPIC on what the selector may reach (its literal
  // prefix, or the filter); each topic is then bound only if the session
  // may read it. `$castor/` is the server's.
  if (mqtt::reserved_topic(sub.covering)
      || (ctx.access && !ctx.access->may_subscribe(sub.covering)))
    return finish(api::error_answer(
        {"PERMISSION_DENIED",
         "subscribing to '" + s.selector + "' needs SELECT_TOPIC on '"
             + sub.covering + "'"}));
  if (!ctx.connection)
    return finish(api::error_answer(no_connection));
  self->request(ctx.connection, api_connection_timeout, subscribe_atom::value,
                sub.key, s.qos)
      .then(
          [=](uint8_t code) mutable {
            if (code <= 2)
              return finish(api::ok_answer({{"qos", code}}));
            auto rc = static_cast<mqtt::reason_code>(code);
            finish(api::error_answer(
                {rc == mqtt::reason_code::quota_exceeded
                     ? "TOO_MANY_SUBSCRIPTIONS"
                     : "SUBSCRIBE_FAILED",
                 "the session did not subscribe: "
                     + std::string{mqtt::to_string(rc)}}));
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(no_connection));
          });
}

void run_unsubscribe(caf::event_based_actor* self, const api_context& ctx,
                     api::unsubscribe_topics u,
                     caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  if (!ctx.connection)
    return finish(api::error_answer(no_connection));
  auto sub = subscription_for(u.selector, u.delta);
  self->request(ctx.connection, api_connection_timeout, unsub_atom::value,
                sub.key)
      .then(
          [=](bool existed) mutable {
            finish(api::ok_answer({{"existed", existed}}));
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(no_connection));
          });
}

} // namespace castor
