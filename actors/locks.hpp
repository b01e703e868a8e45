#pragma once

// The session locks of the platform API (docs/platform.md: locks/acquire,
// locks/release and `locked` constraints): one actor per server, holding a
// lock_table (protocol/constraint.hpp) keyed by session (the MQTT client
// identifier). Waits are answered in the order they were asked, when
// granted or when their wait_ms ends (then they leave the queue, so a
// session that gave up is never granted). The registry tells it when a
// session ends (its locks go, its waits end, the next waiters are
// granted); it watches the connections that wait or hold a lock with
// release_on disconnect, and acts when one goes.
//
// Updates whose constraint names locks pass through it on their way to
// their topic: it fills in which of the named locks the caller holds and
// hands the update on (the topic answers the requester). So the topic
// applies such updates in the order the lock actor decided them: an update
// passed on while its session held the lock reaches the topic before any
// update passed on for the lock's next holder.
//
// In a node group (docs/cluster.md, "Locks") one member keeps the group's
// locks: the one that has run longest (cluster_routes::lock_keeper), so
// that a node that joins never takes them over. The other members' lock
// actors hand it their requests through its router and tell it when their
// sessions end; it watches the connections on their nodes as it watches
// its own. It hands an update whose constraint names locks to its own
// node's topic of the name, which passes it to the topic's owner: so the
// order the keeper decided holds across the group. Should the keeper go,
// the next oldest member keeps the locks from then on, without those the
// old keeper held (they are released); its tokens start above the clock
// (microseconds since 1970), above those of any earlier keeper while the
// members' clocks agree.
//
// What it handles: locks_interface (actors/iface/locks.hpp).

#include <cstddef>

#include <caf/fwd.hpp>

#include "actors/cluster_routes.hpp"
#include "actors/iface/locks.hpp"
#include "actors/iface/topic_tree.hpp"

namespace castor {

/// Most sessions waiting for one lock (more: LOCK_QUEUE_FULL).
inline constexpr size_t max_lock_waiters = 1000;
/// Most locks one session holds or waits for (more: TOO_MANY_LOCKS).
inline constexpr size_t max_session_locks = 1000;

/// `tree` and `routes` (both may be null outside a node group): this
/// node's topic tree and the group's route table, which names the keeper.
locks_interface spawn_locks(caf::actor_system& sys,
                            topic_tree_interface tree = {},
                            cluster_routes_ptr routes = {});

} // namespace castor
