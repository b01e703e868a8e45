#pragma once

// The session registry: client identifier -> session actor. CONNECTs of one
// client identifier are serialised here and in the session actor (which
// handles attach requests one at a time); a clean start replaces the
// session; a session that wants to expire asks first, so an attach already
// on its way is never lost.
//
// A clean start with session expiry 0 gets no session actor: the session
// ends with its connection, so until the client subscribes there is nothing
// a separate actor would keep (most publish-only clients). The registry then
// holds the connection itself (`entry::connection`); a takeover kicks it, and
// its first SUBSCRIBE promotes it to a session actor.
//
// A session belongs to the principal that made it (the attach request's
// principal, "" for anonymous clients). A CONNECT of another principal
// for the same client identifier neither takes the session over nor
// resumes it: it is refused with CONNACK 0x87 (`attach_result::refused`),
// or, with `foreign_session_policy::replace`, the old session ends (its
// connection is kicked with 0x8E) and the newcomer starts a clean one.
//
// In a node group, a CONNECT first claims its client id in the group
// (`registry_options::claims`, actors/cluster_claims.hpp): a session the id
// has on another node moves here (its connection there gets DISCONNECT
// 0x8E), and a CONNECT on another node takes this node's session away
// (handover_atom).
//
// What it handles: registry_interface (actors/iface/registry.hpp); besides,
// exit_msg from the tree or user_shutdown (quit) and from a session that
// failed (forget it).

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <caf/io/broker.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/counters.hpp"
#include "actors/iface/locks.hpp"
#include "actors/iface/registry.hpp"
#include "actors/session.hpp"
#include "actors/session_directory.hpp"
#include "actors/types.hpp"
#include "security/settings.hpp"

namespace castor {

/// What the registry does beyond bookkeeping.
struct registry_options {
  foreign_session_policy foreign_session = foreign_session_policy::refuse;
  /// May be null.
  std::shared_ptr<broker_counters> counters;
  /// Told when a session ends (its locks go); may be null.
  locks_interface locks{};
  /// The sessions the API sees (actors/session_directory.hpp): a session
  /// that ends leaves it. May be null.
  session_directory_ptr sessions{};
  /// In a node group: this node's client-id registry
  /// (actors/cluster_claims.hpp), where every CONNECT claims its client id
  /// first and which tells of sessions that end here. Null: no group.
  caf::actor claims{};
};

struct session_registry_state {
  struct entry {
    session_interface session;
    /// Instead of a session actor: the connection that keeps its session
    /// itself (clean start, expiry 0, nothing subscribed yet).
    caf::actor connection;
    uint64_t attaches = 0;
    std::string principal; ///< who made the session ("" = anonymous)
    bool held() const noexcept {
      return session || connection;
    }
  };
  std::unordered_map<std::string, entry> sessions;
  topic_tree_interface tree;
  session_config cfg;
  registry_options opts;

  static inline const char* name = "session_registry";
};

using session_registry_actor = caf::stateful_actor<session_registry_state>;

/// The registry on the I/O thread (`actor_placement`), beside the
/// connections that ask it and the sessions it spawns.
using session_registry_broker_type
    = caf::io::stateful_broker<session_registry_state>;

caf::behavior session_registry(session_registry_actor* self,
                               topic_tree_interface tree, session_config cfg,
                               registry_options opts);
caf::behavior session_registry_broker(session_registry_broker_type* self,
                                      topic_tree_interface tree,
                                      session_config cfg,
                                      registry_options opts);

} // namespace castor
