#pragma once

// The interface of the topic tree (actors/topic_tree.hpp), as a CAF typed
// actor. docs/architecture.md lists it (tools/interfaces.py).

#include <cstdint>
#include <string>

#include <caf/node_id.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/iface/topic.hpp"
#include "actors/types.hpp"

namespace castor {

/// Most watches (topics/notify) of one connection, and of the server.
inline constexpr size_t max_watches_per_watcher = 100;
inline constexpr size_t max_watches = 10000;

using topic_tree_interface = caf::typed_actor<
    // The topic of a name, created on demand.
    caf::replies_to<lookup_atom, std::string>::with<topic_interface>,
    // The same, created only if the flag says so (else a null handle).
    caf::replies_to<lookup_atom, std::string, bool>::with<topic_interface>,
    // At startup: a topic's retained message, value and events as the
    // store kept them; then true once those before are taken.
    caf::reacts_to<restore_atom, std::string, mqtt::message_ptr,
                   mqtt::message_ptr, publish_batch>,
    caf::replies_to<restore_atom>::with<bool>,
    // One message to route (a will), unanswered.
    caf::reacts_to<publish_atom, mqtt::message_ptr>,
    // Publishes another node forwarded (actors/cluster_router.hpp), for the
    // topic of their name: answered by the topic once it has fanned them out.
    caf::replies_to<publish_atom, publish_batch>::with<bool>,
    // Node groups: every topic's retained message (for a member that
    // joined), and another member's retained messages to fill in.
    caf::replies_to<cl_sync_atom>::with<publish_batch>,
    caf::reacts_to<cl_sync_atom, publish_batch>,
    // Node groups: the typed topics this node owns send their values to
    // the members; and the values a member (on the node given) sent as
    // their owner.
    caf::reacts_to<cl_values_atom>,
    caf::reacts_to<cl_values_atom, publish_batch, caf::node_id>,
    // A session's subscription (a filter); the retained messages to send.
    caf::replies_to<subscribe_atom, topic_subscription>::with<retained_batch>,
    // Forget a session's filters; true once every topic concerned has.
    caf::replies_to<unsub_atom, topic_unsubscription>::with<bool>,
    // Topic, share group, filter, messages a leaving member left.
    caf::reacts_to<redeliver_atom, std::string, std::string, std::string,
                   share_redelivery>,
    // From an idle topic (by name): ask it to retire, forget it if so.
    caf::reacts_to<retire_atom, std::string>,
    // The idle time after which the topics it makes retire (ms, 0 = never).
    caf::reacts_to<gc_config_atom, uint32_t>,
    // Topics alive.
    caf::replies_to<stats_atom>::with<uint64_t>,
    // The topics a filter matches, in name order, at most this many.
    caf::replies_to<fetch_atom, std::string, uint64_t>::with<topic_listing>,
    // topics/notify: watch topics gaining and losing values (false: the
    // watcher has too many watches).
    caf::replies_to<notify_atom, topic_watch>::with<bool>,
    // topics/unnotify (watcher, selector): the watch ended (a null watcher
    // when there was none).
    caf::replies_to<unnotify_atom, caf::actor, std::string>::with<topic_watch>,
    // From a topic (name): it gained a value (true) or lost it.
    caf::reacts_to<exists_atom, std::string, bool>>;

} // namespace castor
