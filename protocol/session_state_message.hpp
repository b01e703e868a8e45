#pragma once

// The application message that flows from a publisher's connection through
// topics to subscribers' sessions: one immutable value per PUBLISH, shared by
// every subscriber (behind a shared pointer), whatever their number.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/packet.hpp"

namespace castor::mqtt {

using steady_time = std::chrono::steady_clock::time_point;

/// A published application message. Never modified once shared.
struct message {
  std::string topic;
  std::string payload;
  uint8_t qos = 0;
  bool retain = false;
  /// The properties forwarded unchanged (payload format indicator, content
  /// type, response topic, correlation data, user properties); null when
  /// there are none (most messages: the struct takes about 500 bytes).
  /// Topic alias, subscription identifiers and the message expiry interval
  /// are not kept here: they are computed per subscriber.
  std::shared_ptr<const properties> props;
  /// Client identifier of the publisher (for no local); empty for messages
  /// the server itself publishes.
  std::string origin;
  /// When the message expires (steady clock); meaningful if has_expiry.
  bool has_expiry = false;
  steady_time expires_at{};
  /// When the server read the PUBLISH (for the delivery latency metric);
  /// zero for messages the server made itself.
  steady_time received{};
};

using message_ptr = std::shared_ptr<const message>;

/// The forwarded properties of `m` (empty if it has none).
const properties& props_of(const message& m) noexcept;

/// About the memory a message takes while it waits in the server (the
/// object, its topic, payload and properties): what flow control counts.
inline uint64_t footprint(const message& m) noexcept {
  return sizeof(message) + 32 + m.topic.size() + m.payload.size()
         + (m.props ? sizeof(properties) : 0);
}

using properties_ptr = std::shared_ptr<const properties>;

/// Builds a shared message from an inbound PUBLISH (topic already resolved
/// from any alias). `now` anchors the message expiry interval. With
/// `last_props` (a connection's), a message whose forwarded properties
/// equal those of the connection's previous one shares them (most
/// publishers send the same content type every time): one allocation
/// fewer per message.
message_ptr make_message(publish&& p, std::string origin, steady_time now,
                         properties_ptr* last_props = nullptr);

/// Seconds until `m` expires (rounded up), 0 if it has expired.
uint32_t remaining_expiry(const message& m, steady_time now) noexcept;

/// True if `m` has an expiry and it has passed.
inline bool expired(const message& m, steady_time now) noexcept {
  return m.has_expiry && m.expires_at <= now;
}

/// One message on its way to one subscriber session: the subscriber's QoS
/// (already downgraded to the subscription's maximum), the retain flag as the
/// subscriber sees it and the matching subscription identifiers.
struct delivery {
  message_ptr msg;
  /// The topic's sequence number of the update (0: not numbered).
  uint64_t seq = 0;
  uint8_t qos = 0;
  bool retain = false;
  std::vector<uint32_t> subscription_ids;
  /// Sent to this session as one member of a shared subscription (goes to
  /// another member if this session ends before acknowledging it).
  bool from_share = false;
  /// For a `$delta/` subscription: sent on `$delta/{topic}`, as `delta`
  /// when the client's last value of the topic is that of update `base`
  /// (the connection decides as it writes), else whole.
  bool delta_form = false;
  message_ptr delta; ///< the update as a delta; null: whole only
  uint64_t base = 0;
  /// Its topic conflates: while it waits in the queue, the next message of
  /// the topic (in the same form) takes its place.
  bool conflate = false;
  /// Its topic is tidied on unsubscribe (TIDY_ON_UNSUBSCRIBE): dropped
  /// from the queue when the subscriptions it came through are gone.
  bool tidy = false;
  /// The key of its record in the store (a persistent session's QoS 1 or
  /// 2 message, docs/persistence.md); empty: not kept. The session erases
  /// the record once the message is delivered or dropped.
  std::string store_key;
};

} // namespace castor::mqtt
