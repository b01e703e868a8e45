#pragma once

// The session registry: client identifier -> session actor. CONNECTs of one
// client identifier are serialised here and in the session actor (which
// handles attach requests one at a time); a clean start replaces the
// session; a session that wants to expire asks first, so an attach already
// on its way is never lost.
//
//   (open_atom, attach_request)             -> attach_result (from the session)
//   (expire_atom, client_id, attaches)      -> bool (may the session end?)

#include <cstdint>
#include <string>
#include <unordered_map>

#include <caf/io/broker.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/session.hpp"
#include "actors/types.hpp"

namespace castor {

struct session_registry_state {
  struct entry {
    caf::actor session;
    uint64_t attaches = 0;
  };
  std::unordered_map<std::string, entry> sessions;
  caf::actor tree;
  session_config cfg;

  static inline const char* name = "session_registry";
};

using session_registry_actor = caf::stateful_actor<session_registry_state>;

/// The registry on the I/O thread (`actor_placement`), beside the
/// connections that ask it and the sessions it spawns.
using session_registry_broker_type
    = caf::io::stateful_broker<session_registry_state>;

caf::behavior session_registry(session_registry_actor* self, caf::actor tree,
                               session_config cfg);
caf::behavior session_registry_broker(session_registry_broker_type* self,
                                      caf::actor tree, session_config cfg);

} // namespace castor
