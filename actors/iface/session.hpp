#pragma once

// The interface of a session actor (actors/session.hpp), as a CAF typed
// actor. docs/architecture.md lists it (tools/interfaces.py).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/types.hpp"

namespace castor {

using session_interface = caf::typed_actor<
    // From the registry: a connection takes the session (after a takeover,
    // once the old connection has gone).
    caf::replies_to<attach_atom, attach_request>::with<attach_result>,
    // From the attached (or kicked) connection: it has gone.
    caf::reacts_to<detach_atom, detach_info>,
    // A SUBSCRIBE; its reason codes once every matching topic has it.
    caf::replies_to<subscribe_atom, subscribe_request>::with<subscribe_codes>,
    // An UNSUBSCRIBE (filters, codes so far); its reason codes once every
    // matching topic has forgotten them.
    caf::replies_to<unsub_atom, std::vector<std::string>,
                    subscribe_codes>::with<subscribe_codes>,
    // From topics: messages for this session.
    caf::reacts_to<deliver_atom, update_batch>,
    // From the connection: the client's acknowledgements.
    caf::reacts_to<ack_atom, ack_batch>,
    // From the connection: bytes of what the session handed it written.
    caf::reacts_to<written_atom, uint64_t>,
    // From the connection: pause or resume deliveries.
    caf::reacts_to<flow_atom, flow_mode>,
    // From the registry: rights may have shrunk; subscriptions the
    // session's rights no longer allow are removed.
    caf::reacts_to<revoke_atom>,
    // From the API (sessions/get): the subscriptions, as a JSON array.
    caf::replies_to<subs_atom>::with<std::string>,
    // From the registry: a clean start replaced the session.
    caf::reacts_to<end_atom>,
    // From the registry: the client id connects on another node of the
    // group. The connection gets DISCONNECT 0x8E; once it has gone the
    // session ends, answering with its state (if wanted) for the new node.
    caf::replies_to<handover_atom, bool>::with<session_snapshot>,
    // From the new session on the other node, once its subscriptions are
    // in force in the group: this one waits for the group's fence (what
    // members forwarded here before has come), unsubscribes, hands on
    // what it queued since (below) and ends.
    caf::reacts_to<handover_atom>,
    // From the old session: the messages it got while the new one's
    // subscriptions came into force (only `messages` is set).
    caf::reacts_to<handover_atom, session_snapshot>,
    // From the registry, at startup: the session as the store kept it
    // (docs/persistence.md). It comes back offline; true once its
    // subscriptions are in force.
    caf::replies_to<restore_atom, stored_session>::with<bool>,
    // From the registry: every stored session is back; a will that was
    // due starts its delay.
    caf::reacts_to<restore_atom>,
    // Its own timers (with the epoch they were set in): will delay, expiry.
    caf::reacts_to<will_atom, uint64_t>, caf::reacts_to<expire_atom, uint64_t>>;

} // namespace castor
