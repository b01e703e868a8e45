#include "actors/api_subscribe.hpp"
#include "actors/tracked.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/api_sessions.hpp"
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

/// Asks `connection` to subscribe its session by `s`.
void subscribe_through(caf::event_based_actor* self, const caf::actor& connection,
                       const api::subscribe_topics& s,
                       caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  auto sub = subscription_for(s.selector, s.delta);
  tracked(self->request(connection, api_connection_timeout,
                        subscribe_atom::value, sub.key, s.qos))
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

/// Asks `connection` to unsubscribe its session from `selector`.
void unsubscribe_through(caf::event_based_actor* self,
                         const caf::actor& connection,
                         const std::string& selector, bool delta,
                         caf::typed_response_promise<std::string> rp) {
  auto finish = answer_and_quit(self, rp);
  auto sub = subscription_for(selector, delta);
  tracked(self->request(connection, api_connection_timeout, unsub_atom::value,
                        sub.key))
      .then(
          [=](bool existed) mutable {
            finish(api::ok_answer({{"existed", existed}}));
          },
          [=](caf::error&) mutable {
            finish(api::error_answer(no_connection));
          });
}

void run_subscribe(caf::event_based_actor* self, const api_context& ctx,
                   api::subscribe_topics s,
                   caf::typed_response_promise<std::string> rp) {
  auto sub = subscription_for(s.selector, s.delta);
  // As SUBSCRIBE: SELECT_TOPIC on what the selector may reach (its literal
  // prefix, or the filter); each topic is then bound only if the session
  // may read it. `$castor/` is the server's.
  if (mqtt::reserved_topic(sub.covering)
      || (ctx.access && !ctx.access->may_subscribe(sub.covering)))
    return answer_and_quit(self, rp)(api::error_answer(
        {"PERMISSION_DENIED",
         "subscribing to '" + s.selector + "' needs SELECT_TOPIC on '"
             + sub.covering + "'"}));
  if (!ctx.connection)
    return answer_and_quit(self, rp)(api::error_answer(no_connection));
  subscribe_through(self, ctx.connection, s, rp);
}

void run_unsubscribe(caf::event_based_actor* self, const api_context& ctx,
                     api::unsubscribe_topics u,
                     caf::typed_response_promise<std::string> rp) {
  if (!ctx.connection)
    return answer_and_quit(self, rp)(api::error_answer(no_connection));
  unsubscribe_through(self, ctx.connection, u.selector, u.delta, rp);
}

void run_session_subscribe(caf::event_based_actor* self,
                           const api_context& ctx, api::subscribe_session s,
                           caf::typed_response_promise<std::string> rp) {
  auto fail = [self, rp](api::error e) {
    answer_and_quit(self, rp)(api::error_answer(e));
  };
  if (ctx.access && !ctx.access->may_modify_sessions())
    return fail({"PERMISSION_DENIED",
                 "subscribing another session needs MODIFY_SESSION"});
  auto sub = subscription_for(s.subscription.selector, s.subscription.delta);
  if (mqtt::reserved_topic(sub.covering))
    return fail({"PERMISSION_DENIED", "topics under $castor/ are the server's"});
  // The session's own rights decide which topics it gets: its connection
  // (here, or on the member that has it) subscribes it.
  auto through = [=](std::pair<std::string, caf::actor> r) mutable {
    if (r.first == "NOT_CONNECTED")
      return fail({"NOT_CONNECTED", "session '" + s.session
                                        + "' is offline: it is subscribed "
                                          "through its connection"});
    if (!r.second)
      return fail({"NO_SUCH_SESSION", "no session '" + s.session + "'"});
    if (s.unsubscribe)
      unsubscribe_through(self, r.second, s.subscription.selector,
                          s.subscription.delta, rp);
    else
      subscribe_through(self, r.second, s.subscription, rp);
  };
  auto r = ctx.sessions ? ctx.sessions->get(s.session) : std::nullopt;
  if (r && !r->connection)
    return through({"NOT_CONNECTED", nullptr});
  if (r)
    return through({std::string{}, r->connection});
  ask_members(self, ctx,
              std::pair<std::string, caf::actor>{"NO_SUCH_SESSION", nullptr},
              through, cl_sconn_atom::value, s.session);
}

} // namespace castor
