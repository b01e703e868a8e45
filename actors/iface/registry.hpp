#pragma once

// The interface of the session registry (actors/session_registry.hpp), as a
// CAF typed actor. docs/architecture.md lists it (tools/interfaces.py).

#include <cstdint>
#include <string>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/types.hpp"

namespace castor {

using registry_interface = caf::typed_actor<
    // A CONNECT: the session to attach to (answered by the session, or at
    // once when refused or when the connection keeps the session itself).
    caf::replies_to<open_atom, attach_request>::with<attach_result>,
    // A connection that kept its session itself subscribes: a session actor.
    caf::replies_to<promote_atom, attach_request>::with<attach_result>,
    // A connection that kept its session itself has gone (client id).
    caf::reacts_to<detach_atom, std::string>,
    // May the session end (client id, attaches it has seen)?
    caf::replies_to<expire_atom, std::string, uint64_t>::with<bool>,
    // Rights changed (a new security store): every session checks its
    // subscriptions against its rights now.
    caf::reacts_to<revoke_atom>,
    // The rights of one principal changed: its sessions check theirs.
    caf::reacts_to<revoke_atom, std::string>,
    // Sessions registered.
    caf::replies_to<stats_atom>::with<uint64_t>,
    // From the node's client-id registry (actors/cluster_claims.hpp): the
    // client id (first) connects on another node as a principal (second);
    // the connection here gets DISCONNECT 0x8E and the session ends,
    // handing over its state if wanted (no clean start). A session of
    // another principal is kept and the other CONNECT refused, unless
    // foreign sessions are replaced.
    caf::replies_to<handover_atom, std::string, bool,
                    std::string>::with<session_snapshot>,
    // From the node's client-id registry: the client id's session on
    // another node stays (two sides of a partition each took a CONNECT of
    // it); the connection here gets DISCONNECT 0x8E and the session ends.
    caf::reacts_to<kick_atom, std::string>,
    // At startup, before the listeners open: the persistent sessions as
    // the store kept them (docs/persistence.md); true once all are back
    // (their subscriptions in force). Then their due wills start their
    // delay.
    caf::replies_to<restore_atom, std::vector<stored_session>>::with<bool>>;

} // namespace castor
