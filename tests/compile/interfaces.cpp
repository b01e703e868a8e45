// Compiled by check_interfaces.py, once as it is (must compile) and once
// with each PROBE_* macro (must not, with CAF's message for that mistake):
// the typed interfaces of actors/iface/ reject, at compile time, a message
// the receiver does not handle and a behavior that does not match its
// interface.

#include <caf/all.hpp>

#include "actors/iface/authenticator.hpp"
#include "actors/iface/implement.hpp"
#include "actors/iface/session.hpp"
#include "actors/iface/topic.hpp"

namespace castor {

caf::behavior probe(caf::event_based_actor* self, topic_interface topic,
                    caf::actor session) {
#ifdef PROBE_SEND
  // A topic does not answer stats_atom (the tree does).
  self->send(topic, stats_atom::value);
#else
  self->send(topic, gc_config_atom::value, uint32_t{0});
#endif
#ifdef PROBE_SEND_AS
  // A session takes update batches, not publish batches.
  send_as<session_interface>(self, session, deliver_atom::value,
                             publish_batch{});
#else
  send_as<session_interface>(self, session, deliver_atom::value,
                             update_batch{});
#endif
  return implement<authenticator_interface>(
#ifdef PROBE_ANSWER
      // The answer must be an auth_reply.
      [](authenticate_atom, const authenticate_request&) { return true; }
#else
      [](authenticate_atom, const authenticate_request&) {
        return auth_reply{};
      }
#endif
#ifdef PROBE_EXTRA
      // Not part of the interface.
      ,
      [](stats_atom) { return uint64_t{0}; }
#endif
  );
}

} // namespace castor
