#pragma once

// The MQTT delivery rules, applied where a session takes a topic's updates
// (the topic knows nothing of them): QoS downgrade to the subscription's
// maximum, no local, retain as published, subscription identifiers, and the
// retain handling of a new subscription (MQTT 5.0 3.3.1.3, 3.3.2.3.8,
// 3.8.3.1, 3.8.4). Pure functions, tested without actors.

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/session_state_message.hpp"
#include "protocol/update.hpp"

namespace castor::mqtt {

/// What one subscription asks of the messages it receives. A topic keeps
/// these for its subscribers without reading them and hands them back with
/// every update (one list per subscriber session: each of its
/// subscriptions whose filter matches the topic).
struct delivery_options {
  uint8_t max_qos = 0;
  bool no_local = false;
  bool retain_as_published = false;
  uint32_t subscription_id = 0; ///< 0 = none
  /// A `$delta/` subscription: updates go in their delta form, on
  /// `$delta/{topic}`, apart from those of plain subscriptions.
  bool delta = false;
  bool operator==(const delivery_options& o) const noexcept {
    return max_qos == o.max_qos && no_local == o.no_local
           && retain_as_published == o.retain_as_published
           && subscription_id == o.subscription_id && delta == o.delta;
  }
};

/// The options of a subscriber's subscriptions to one topic.
using options_list = std::shared_ptr<const std::vector<delivery_options>>;

/// Which deliveries deliver_through made.
enum deliveries : unsigned { plain_delivery = 1, delta_delivery = 2 };

/// The deliveries of `u` to the session `client_id` through its
/// subscriptions `opts` (all of which match the topic): `plain` through
/// the plain subscriptions, `delta` (in the delta form) through the
/// `$delta/` ones; none for subscriptions that are no-local when the
/// session published `u`. Each goes once, at the highest QoS its
/// subscriptions grant (never above the published one), retained if one
/// asks for RETAIN as published, with their subscription identifiers.
/// Returns which were made (deliveries bits).
unsigned deliver_through(const update& u, const std::string& client_id,
                         const std::vector<delivery_options>& opts,
                         delivery& plain, delivery& delta);

/// The delivery of `u` to one member of a share group, through its
/// subscription `o` (no local does not apply to shared subscriptions).
delivery share_delivery(const update& u, const delivery_options& o);

/// The retained message `u` for a new subscription `sub` of the session
/// `client_id` (`existed`: the session had it already; `shared`: a share
/// group's): false when none is sent (retain handling 2, or 1 for an
/// existing subscription; a shared subscription; no local and the session
/// published it). It keeps RETAIN. For a `$delta/` subscription (`delta`)
/// it is the topic's value, in the delta form (whole).
bool retained_delivery(const update& u, const std::string& client_id,
                       const subscription& sub, uint32_t subscription_id,
                       bool existed, bool shared, bool delta, delivery& out);

} // namespace castor::mqtt
