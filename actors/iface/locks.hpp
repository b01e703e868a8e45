#pragma once

// The interface of the lock actor (actors/locks.hpp), as a CAF typed
// actor. docs/architecture.md lists it (tools/interfaces.py).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/node_id.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/iface/topic.hpp"
#include "actors/types.hpp"

namespace castor {

/// API request actor -> locks: acquire a lock.
using lock_acquire_atom = caf::atom_constant<caf::atom("lkacquire")>;
/// API request actor -> locks: release a lock.
using lock_release_atom = caf::atom_constant<caf::atom("lkrelease")>;
/// Registry -> locks: a session has ended.
using lock_closed_atom = caf::atom_constant<caf::atom("lkclosed")>;
/// Locks -> itself: a wait has lasted its wait_ms.
using lock_wait_atom = caf::atom_constant<caf::atom("lkwait")>;

using locks_interface = caf::typed_actor<
    // Lock name, session (client id), the connection that asks, wait_ms,
    // whether the lock goes when that connection does (release_on
    // disconnect): an empty error code and the fencing token, or an error
    // code (LOCK_TIMEOUT, LOCK_QUEUE_FULL, TOO_MANY_LOCKS) and 0. Answered
    // when granted or when the wait ends.
    caf::replies_to<lock_acquire_atom, std::string, std::string, caf::actor,
                    uint64_t, bool>::with<std::string, uint64_t>,
    // Lock name, session: whether the session held it (the next waiter is
    // granted).
    caf::replies_to<lock_release_atom, std::string, std::string>::with<bool>,
    // A session (client id) has ended: its locks go and its waits end.
    caf::reacts_to<lock_closed_atom, std::string>,
    // An update whose constraint names locks, for the topic: the session
    // and the lock names. The locks fill in which of them the session
    // holds (conditional_update::held_locks) and pass it to the topic,
    // which answers the requester.
    caf::replies_to<update_atom, topic_interface, conditional_update,
                    std::string,
                    std::vector<std::string>>::with<update_outcome>,
    // Locks -> itself: the wait with this id ends unless granted.
    caf::reacts_to<lock_wait_atom, uint64_t>,
    // In a node group, the requests of the other members' lock actors
    // (through their routers) for this node as the group's lock keeper:
    // as above. A session that ended on a member (whose node `origin`
    // is) gives up its waits and the locks it holds through a connection
    // of that node or through none (that connection has gone).
    caf::replies_to<cl_lock_atom, lock_acquire_atom, std::string, std::string,
                    caf::actor, uint64_t, bool>::with<std::string, uint64_t>,
    caf::replies_to<cl_lock_atom, lock_release_atom, std::string,
                    std::string>::with<bool>,
    caf::reacts_to<cl_lock_atom, lock_closed_atom, std::string, caf::node_id>,
    // An update whose constraint names locks: the keeper hands it to its
    // own node's topic of the name (in the order it decided them).
    caf::replies_to<cl_lock_atom, update_atom, conditional_update, std::string,
                    std::vector<std::string>>::with<update_outcome>>;

} // namespace castor
