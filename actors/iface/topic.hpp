#pragma once

// The interface of a topic actor (actors/topic.hpp): what it handles, as a
// CAF typed actor, so that a message it does not handle fails to compile,
// at the sender and in the topic's behavior. docs/architecture.md lists it
// (tools/interfaces.py generates that list from this file).

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/node_id.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include "actors/cluster_types.hpp"
#include "actors/types.hpp"

namespace castor {

using topic_interface = caf::typed_actor<
    // A connection's publishes of one read, QoS 1 and 2 among them: true
    // once fanned out (and the retained message updated).
    caf::replies_to<publish_atom, publish_batch>::with<bool>,
    // The same for QoS 0 only, unanswered.
    caf::reacts_to<push_atom, publish_batch>,
    // One message from the tree (a will), unanswered.
    caf::reacts_to<publish_atom, mqtt::message_ptr>,
    // Node groups: its retained message (null if none), for a member that
    // joined; and another member's, taken only if it has none.
    caf::replies_to<cl_sync_atom>::with<publish_batch>,
    caf::reacts_to<cl_sync_atom, mqtt::message_ptr>,
    // Node groups: if it is a typed topic this node owns, it sends its
    // value to every member's router (after its own updates, so a member
    // never gets it after a newer one); and the value its owner (on the
    // node given) holds, taken if it differs from its own.
    caf::reacts_to<cl_values_atom>,
    caf::reacts_to<cl_values_atom, mqtt::message_ptr, caf::node_id>,
    // From the tree: a session's subscription; the current value (retained
    // message), if any, for the session to send as its protocol says.
    caf::replies_to<subscribe_atom, topic_subscription>::with<retained_batch>,
    // From the tree: the same without retained messages (a wildcard
    // subscription reaching a topic created later).
    caf::reacts_to<attach_atom, topic_subscription>,
    // From the tree: forget (session, filter, share group); true once done.
    caf::replies_to<unsub_atom, caf::actor, std::string,
                    std::string>::with<bool>,
    // Share group, filter, updates a leaving member did not acknowledge.
    caf::reacts_to<redeliver_atom, std::string, std::string, share_redelivery>,
    // From a session: credit for n delivery batches and their bytes.
    caf::reacts_to<credit_atom, uint32_t, uint64_t>,
    // From the tree: retire after this many ms unused (0 = never).
    caf::reacts_to<gc_config_atom, uint32_t>,
    // Its own idle timer (with the publish count when it was set).
    caf::reacts_to<gc_check_atom, uint64_t>,
    // From the tree: quit if still unused; true if it did.
    caf::replies_to<retire_atom>::with<bool>,
    // Its last update (the platform API's fetch); null if none.
    caf::replies_to<fetch_atom>::with<mqtt::message_ptr>,
    // The platform API added it: never retire (until removed).
    caf::reacts_to<keep_atom>,
    // At startup, from the tree: its retained message, value and (a time
    // series) events as the store kept them (docs/persistence.md).
    caf::reacts_to<restore_atom, mqtt::message_ptr, mqtt::message_ptr,
                   publish_batch>,
    // The platform API's update under a constraint, or patch: applied (an
    // empty code) or why not, decided against the value at that moment.
    caf::replies_to<update_atom, conditional_update>::with<update_outcome>,
    // Node groups: the same from another member, decided here as the
    // typed topic's owner.
    caf::replies_to<cl_owner_atom, conditional_update>::with<update_outcome>,
    caf::replies_to<cl_owner_atom, series_request>::with<series_answer>,
    // The platform API's time series operations (append, edit, range).
    caf::replies_to<series_atom, series_request>::with<series_answer>,
    // Its removal policy's timer (with the epoch it was armed with).
    caf::reacts_to<removal_check_atom, uint64_t>,
    // The platform API added it for this session (or connection): what a
    // removal policy's `this session closes` watches.
    caf::reacts_to<adder_atom, caf::actor>,
    // The platform API removes it: forget the value and the retained
    // message, retire after this many ms unused (as topics made by
    // publishes do); true if it had either.
    caf::replies_to<remove_atom, uint32_t>::with<bool>>;

/// The topics a filter matches, in name order (the platform API's fetch).
struct topic_listing {
  std::vector<std::string> names;
  std::vector<topic_interface> topics;
  bool more = false; ///< more matched than were asked for
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, topic_listing& x) {
  return f(caf::meta::type_name("topic_listing"), x.names, x.topics, x.more);
}

} // namespace castor

// Actor handles that travel in messages (the tree answers lookups with one).
CAF_BEGIN_TYPE_ID_BLOCK(castor_handles, caf::first_custom_type_id + 300)

CAF_ADD_TYPE_ID(castor_handles, (castor::topic_interface))
CAF_ADD_TYPE_ID(castor_handles, (castor::topic_listing))

CAF_END_TYPE_ID_BLOCK(castor_handles)
