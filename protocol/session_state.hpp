#pragma once

// The state of one MQTT session as a movable value, without actors or
// sockets (in the manner of EMQX's emqx_session_mem): subscriptions with
// their options and identifiers, the outbound in-flight window keyed by
// packet identifier with its QoS 1/2 states, a bounded queue of messages
// waiting for the window or for the client to come back, the inbound QoS 2
// packet identifiers awaiting PUBREL, and counters of what was dropped.

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "metrics/metrics.hpp"
#include "protocol/packet.hpp"
#include "protocol/session_state_message.hpp"
#include "protocol/session_state_queue.hpp"

namespace castor::mqtt {

/// A packet the session wants sent to its client.
struct outbound {
  enum class kind : uint8_t { publish, pubrel };
  kind type = kind::publish;
  uint16_t packet_id = 0; ///< 0 for QoS 0
  uint8_t qos = 0;
  bool dup = false;
  bool retain = false;
  message_ptr msg; ///< for publish
  std::vector<uint32_t> subscription_ids;
  /// In the delta form (delivery::delta_form): on `$delta/{topic}`, as
  /// `delta` if the last value the connection wrote for the topic is that
  /// of update `base`, else whole; `seq` is the update's.
  bool delta_form = false;
  message_ptr delta;
  uint64_t seq = 0;
  uint64_t base = 0;
};

/// What a full queue does with one more message.
enum class overflow_policy : uint8_t { drop_oldest, drop_newest };

struct session_limits {
  /// Messages held in the queue of a disconnected session (a connected
  /// session's queue is bounded by the credit it gives topics instead).
  uint32_t max_queued = 1000;
  /// A connected session with this many queued messages is congested: it
  /// stops giving topics credit, which slows their publishers.
  uint32_t congestion_threshold = 64;
  overflow_policy overflow = overflow_policy::drop_oldest;
  /// Keep QoS 0 messages for a disconnected client (Mosquitto's
  /// queue_qos0_messages); off by default.
  bool queue_qos0_offline = false;
  /// Bytes (wire_size) handed to the connection that it has not yet
  /// reported written to its socket (on_written); beyond them messages
  /// wait in the queue. 0 = no limit.
  uint64_t max_unwritten_bytes = 0;
};

/// About the bytes an outbound packet takes on the wire (the session's and
/// the connection's common measure for max_unwritten_bytes).
inline uint64_t wire_size(const outbound& o) noexcept {
  if (o.type == outbound::kind::pubrel || !o.msg)
    return 4;
  return o.msg->topic.size() + o.msg->payload.size() + 16;
}

/// What the session dropped and why.
struct session_counters {
  uint64_t dropped_queue_full = 0;
  uint64_t dropped_qos0_offline = 0;
  uint64_t dropped_expired = 0;
  uint64_t dropped_too_large = 0;
  uint64_t dropped_qos0_slow = 0;
  /// Messages of conflating topics replaced, while they waited, by a later
  /// one of the same topic.
  uint64_t conflated = 0;
  /// Queued messages of tidied topics dropped on unsubscribe.
  uint64_t tidied = 0;
};

/// A subscription as the session stores it.
struct stored_subscription {
  subscription opts;
  uint32_t subscription_id = 0; ///< 0 = none
};

class session_state {
public:
  explicit session_state(session_limits limits = {});

  // -- subscriptions ----------------------------------------------------------

  /// Adds or replaces the subscription of `s.filter`. Returns true if a
  /// subscription of that filter existed before (retain handling 1).
  bool subscribe(const subscription& s, uint32_t subscription_id);

  /// Removes the subscription of `filter`; false if there was none.
  bool unsubscribe(const std::string& filter);

  /// TIDY_ON_UNSUBSCRIBE, once `filters` are unsubscribed (and their
  /// topics have forgotten them): drops the queued messages, not yet
  /// sent, of tidied topics (delivery::tidy) that one of `filters`
  /// matched and no remaining subscription matches in the same form
  /// (plain or `$delta/`). Messages of a shared subscription are the
  /// group's and stay. Returns how many were dropped (counted as tidied).
  size_t tidy(const std::vector<std::string>& filters);

  const std::map<std::string, stored_subscription>& subscriptions() const {
    return subs_;
  }

  // -- connection -------------------------------------------------------------

  bool connected() const noexcept {
    return connected_;
  }

  /// A connection attached; `window` is the client's receive maximum.
  /// Appends what must be sent first: every in-flight message again (PUBLISH
  /// with DUP set, or PUBREL for those already received) in the order first
  /// sent, then queued messages, while the window allows: retransmissions
  /// beyond it follow as acknowledgements free it, before anything queued.
  void attach(uint16_t window, steady_time now, std::vector<outbound>& out);

  /// The connection went away; messages are queued until the next attach
  /// (the queue is cut to its bound, counted).
  void detach();

  /// The session ends once its subscriptions are gone (expiry 0): from now
  /// on the queue keeps every shared-subscription message, whatever its
  /// bound (they go to other members of their groups, see
  /// take_unacknowledged), and takes no other message (nobody will read it).
  void end_pending() noexcept {
    ending_ = true;
  }

  /// Connected with a backlog: topics should get no more credit.
  bool congested() const noexcept {
    return connected_ && !drop_qos0_
           && queue_.size() >= limits_.congestion_threshold;
  }

  // -- outbound flow ----------------------------------------------------------

  /// The connection's outbound bytes stopped draining (`paused`); messages
  /// wait in the queue meanwhile. With `drop_qos0` (slow consumer policy)
  /// the session no longer counts as congested and its queue keeps the
  /// max_queued bound by dropping its oldest QoS 0 messages first. Resuming
  /// appends what can be sent again.
  void set_paused(bool paused, bool drop_qos0, steady_time now,
                  std::vector<outbound>& out);

  bool paused() const noexcept {
    return paused_;
  }

  /// The connection has written `bytes` (wire_size) of what it was handed.
  /// Appends what can be sent again.
  void on_written(uint64_t bytes, steady_time now, std::vector<outbound>& out);

  /// Bytes handed to the connection and not yet reported written.
  uint64_t unwritten() const noexcept {
    return unwritten_;
  }

  /// A message for this session. Appends what can be sent now. A message
  /// of a conflating topic (delivery::conflate) takes the place of the one
  /// of its topic and form waiting in the queue, if any.
  void enqueue(delivery d, steady_time now, std::vector<outbound>& out);

  /// The client acknowledged QoS 1 `id` (PUBACK). Appends what the freed
  /// window lets through. Unknown identifiers are ignored.
  void on_puback(uint16_t id, steady_time now, std::vector<outbound>& out);

  /// PUBREC for QoS 2 `id`. With an error code the message is complete;
  /// otherwise PUBREL goes (for every PUBREC: again for one that came
  /// before, and for an identifier not in flight as QoS 2, which the
  /// client holds until PUBREL) and the message waits for PUBCOMP.
  void on_pubrec(uint16_t id, bool error, steady_time now,
                 std::vector<outbound>& out);

  /// PUBCOMP for QoS 2 `id`.
  void on_pubcomp(uint16_t id, steady_time now, std::vector<outbound>& out);

  /// The connection could not send `id` (larger than the client's maximum
  /// packet size): the message counts as delivered.
  void on_dropped(uint16_t id, steady_time now, std::vector<outbound>& out);

  /// Removes and returns the QoS 1/2 messages not yet acknowledged (in
  /// flight whose PUBLISH may be unacknowledged, then queued), e.g. to give
  /// a shared subscription's messages to another member.
  std::vector<delivery> take_unacknowledged();

  size_t inflight_count() const noexcept {
    return inflight_.size();
  }
  size_t queued_count() const noexcept {
    return queue_.size();
  }
  const session_counters& counters() const noexcept {
    return counters_;
  }
  const session_limits& limits() const noexcept {
    return limits_;
  }

  // -- kept in the store (persistent sessions, docs/persistence.md) -----------

  /// A QoS 2 message kept in the store whose state the store must learn
  /// before the packet that follows it goes out: sent with `packet_id`
  /// (the PUBLISH, `released` false; `d` its delivery), or received by
  /// the client (PUBREL next, `released` true).
  struct flight_change {
    std::string key;
    uint16_t packet_id = 0;
    bool released = false;
    delivery d;
  };

  /// The store keys of kept messages delivered or dropped since the last
  /// call (their records go).
  std::vector<std::string> take_released() {
    return std::exchange(released_, {});
  }

  /// The flight changes since the last call, in order.
  std::vector<flight_change> take_flights() {
    return std::exchange(flights_, {});
  }

  /// The store keys of every kept message it holds (in flight or queued).
  std::vector<std::string> stored_keys() const;

  /// A kept QoS 2 message that was in flight with `id` when the store
  /// last saw it (`released`: PUBREC came, PUBREL goes next): sent again
  /// at the next attach, with the same identifier, before anything queued.
  void restore_inflight(uint16_t id, bool released, delivery d);

  /// A kept message as the store had it: a QoS 2 message in flight with
  /// `id` (`released`: PUBREC came; such a record says nothing else of the
  /// message) goes to restore_inflight(), any other is queued (enqueue;
  /// nothing is sent while detached). False if there was nothing to keep.
  bool restore(uint16_t id, bool released, delivery d, steady_time now,
               std::vector<outbound>& out);

  // -- inbound QoS 2 ----------------------------------------------------------

  /// Packet identifiers of QoS 2 PUBLISH packets received and not yet
  /// released (exactly once across reconnects).
  std::set<uint16_t> inbound_qos2;

private:
  enum class flight : uint8_t { await_puback, await_pubrec, await_pubcomp };

  struct inflight_entry {
    flight state;
    uint64_t seq; // send order, for retransmission
    delivery d;
  };

  void pump(steady_time now, std::vector<outbound>& out);
  void resend(uint16_t id, const inflight_entry& e, std::vector<outbound>& out);
  void drop_resend(uint16_t id);
  /// Drops the newest or the oldest queued message (the queue is full).
  void drop_one(bool newest);
  void trim_slow();
  /// Puts `d` in the place of the waiting message it conflates with; false
  /// if there is none.
  bool conflate(delivery& d);
  void send(delivery&& d, steady_time now, std::vector<outbound>& out);
  void complete(uint16_t id, steady_time now, std::vector<outbound>& out);
  uint16_t next_packet_id();
  /// `d` leaves the session for good (delivered or dropped): a kept
  /// message's record goes.
  void gone(delivery& d) {
    if (!d.store_key.empty())
      released_.push_back(std::move(d.store_key));
  }
  /// In flight on this connection (retransmissions still to send are not)
  /// below the client's receive maximum.
  bool window_open() const noexcept {
    return inflight_.size() - resend_.size() < window_;
  }
  /// The connection may be handed more (max_unwritten_bytes).
  bool writable() const noexcept {
    return limits_.max_unwritten_bytes == 0
           || unwritten_ < limits_.max_unwritten_bytes;
  }
  void handed(const outbound& o) noexcept {
    unwritten_ += wire_size(o);
  }

  session_limits limits_;
  std::map<std::string, stored_subscription> subs_;
  /// subs_.size() in the subscriptions gauge.
  metrics::gauge_share<&metrics::block::subscriptions> subs_gauge_;
  bool connected_ = false;
  bool paused_ = false;
  bool drop_qos0_ = false;
  bool ending_ = false;
  uint16_t window_ = 65535;
  uint16_t last_id_ = 0;
  uint64_t unwritten_ = 0;
  uint64_t seq_ = 0;
  std::map<uint16_t, inflight_entry> inflight_;
  /// In-flight messages to send again (DUP) once the window lets them, in
  /// the order first sent.
  lazy_deque<uint16_t> resend_;
  lazy_deque<delivery> queue_;
  session_counters counters_;
  std::vector<std::string> released_;
  std::vector<flight_change> flights_;
};

} // namespace castor::mqtt
