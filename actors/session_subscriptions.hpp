#pragma once

// What a session knows of its subscriptions beyond routing: which of them
// its rights no longer allow (a change of roles or of the security store
// takes them away, docs/security.md "Enforcement"), and how the API shows
// them (sessions/get). Pure functions of the session state.

#include <string>
#include <vector>

#include "actors/types.hpp"
#include "protocol/channel.hpp"
#include "protocol/session_state.hpp"

namespace castor {

/// The subscriptions of `state` that a SUBSCRIBE under `access` would be
/// refused now (no SELECT_TOPIC and READ_TOPIC on any topic the filter
/// matches), in filter order. `access` must not be null.
std::vector<std::string> unreadable_filters(const mqtt::session_state& state,
                                            const mqtt::access_policy& access);

/// The subscriptions as a JSON array of objects: `filter` (as subscribed:
/// `$share/{group}/` and `$delta/` included) or, for a subscription by
/// selector (topics/subscribe), `selector` and `delta`; `qos`, `no_local`,
/// `retain_as_published`, `retain_handling`, and `subscription_id` when
/// it has one.
std::string subscriptions_json(const mqtt::session_state& state);

// -- moving a session to another node of a group --------------------------

/// The subscriptions of `state` as they were made, with their identifiers
/// (one each, 0: none), appended to `subs` and `ids`.
void list_subscriptions(const mqtt::session_state& state,
                        std::vector<mqtt::subscription>& subs,
                        std::vector<uint32_t>& ids);

/// The state another node takes the session on with: its subscriptions,
/// the QoS 1/2 messages not acknowledged (taken out of `state`) and the
/// QoS 2 identifiers awaiting PUBREL.
session_snapshot take_snapshot(mqtt::session_state& state);

/// The SUBSCRIBEs that make `snap`'s subscriptions at this node's tree,
/// one per subscription identifier, under `access`: without retained
/// messages (retain handling 2), as the subscriptions are not new.
std::vector<subscribe_request> restore_requests(const session_snapshot& snap,
                                                const access_ref& access);

/// Puts `snap` into `state` (not attached): its subscriptions as the
/// client made them, its messages queued in order, its QoS 2 identifiers.
void restore_state(mqtt::session_state& state, const session_snapshot& snap,
                   mqtt::steady_time now);

} // namespace castor
