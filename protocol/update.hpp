#pragma once

// One update of a topic: what a topic keeps as its current value and fans
// out, once, to every subscriber, whatever protocol the subscriber speaks.
// The topic reads only the protocol-neutral part (the value, whether it
// replaces or clears the current value, when it expires, who published it);
// what MQTT needs to deliver it (the QoS it was published with, the
// forwarded properties) travels with it as one opaque part, read by the
// MQTT subscriber adapter on the session side (protocol/mqtt_subscriber.hpp).
//
// Today every update comes from an MQTT PUBLISH, so the value bytes, the
// publisher and the MQTT part share one immutable mqtt::message (one
// allocation per publish, shared by every subscriber); the accessors below
// are what the topic may use of it.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/session_state_message.hpp"

namespace castor {

/// What kind of value an update carries. Everything MQTT publishes is
/// bytes; typed topics add the others.
enum class value_type : uint8_t {
  binary = 0,
};

struct update {
  /// Per topic: 1 for the first update a topic fans out, then one more for
  /// each (0: not numbered, never fanned out).
  uint64_t seq = 0;
  value_type type = value_type::binary;
  /// The value, the publisher and the MQTT part (opaque to the topic).
  mqtt::message_ptr msg;
  /// The update as a delta against the value of update `base` (the one
  /// before it that subscribers received), smaller than the value: the
  /// same message with the delta as payload and its content type
  /// (protocol/update_delta.hpp). Null when no subscriber wants deltas or
  /// none is smaller.
  mqtt::message_ptr delta;
  uint64_t base = 0;
  /// The topic conflates (CONFLATION): a subscriber's session keeps at
  /// most one of its updates waiting, the latest.
  bool conflate = false;
  /// The topic is tidied on unsubscribe (TIDY_ON_UNSUBSCRIBE): a session
  /// that unsubscribes drops what it still has queued of it.
  bool tidy = false;

  explicit operator bool() const noexcept {
    return msg != nullptr;
  }
  std::string_view value() const noexcept {
    return msg->payload;
  }
  /// The publisher's session (client id); empty for the server's own.
  const std::string& publisher() const noexcept {
    return msg->origin;
  }
  /// The update becomes the topic's current value (MQTT: RETAIN set) ...
  bool keeps_value() const noexcept {
    return msg->retain && !msg->payload.empty();
  }
  /// ... or clears it (MQTT: RETAIN set, empty payload).
  bool clears_value() const noexcept {
    return msg->retain && msg->payload.empty();
  }
  bool expired(mqtt::steady_time now) const noexcept {
    return mqtt::expired(*msg, now);
  }
  /// What it takes in memory while it waits (what flow control counts).
  uint64_t footprint() const noexcept {
    return mqtt::footprint(*msg);
  }
};

/// Updates shared by every subscriber they go to.
using update_list = std::shared_ptr<const std::vector<update>>;

} // namespace castor
