#pragma once

// One actor per topic path: the current value (the retained message) and
// the subscriber set. The topic speaks in updates (protocol/update.hpp):
// each publish becomes one numbered update, fanned out once to every
// subscriber session, all of them sharing the one immutable list; the
// MQTT delivery rules (QoS downgrade, no local, retain as published,
// subscription identifiers) are the session's (protocol/mqtt_subscriber.hpp).
// What it handles: topic_interface (actors/iface/topic.hpp).
//
// Flow control: every delivery batch to a session takes one unit of credit;
// the session gives it back once the messages are on their way (not while it
// is congested). While some session has max_outstanding_batches in flight,
// publishes wait in the stash and their connections get no answer, so they
// hold PUBACKs and eventually stop reading.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/cluster_routes.hpp"
#include "actors/iface/topic.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/retained_budget.hpp"
#include "actors/store_writer.hpp"
#include "actors/topic_removal.hpp"
#include "actors/types.hpp"
#include "protocol/time_series.hpp"
#include "protocol/topic_mapping.hpp"
#include "protocol/update_delta.hpp"

namespace castor {

/// Which messages of a batch this node's share groups get, in a node
/// group (actors/topic_forward.hpp).
struct share_filter {
  std::vector<share_pick> picks;
  /// A share group without a pick gets none (a forwarded batch: the
  /// publishing node picked for every node); else it gets them all.
  bool exclusive = false;
  /// Whether plain subscribers get the batch.
  bool plain = true;
};
using share_filter_ptr = std::shared_ptr<const share_filter>;

struct topic_state {
  /// One subscription of a subscriber session: its filter, and what its
  /// protocol asks of each update (kept unread, handed back with them).
  struct entry {
    std::string filter;
    mqtt::delivery_options options;
  };

  struct subscriber {
    std::vector<entry> entries;
    /// The entries' options, shared by every batch to this subscriber
    /// (rebuilt when they change).
    mqtt::options_list options;
    /// A persistent session's client id, whose QoS 1 and 2 messages the
    /// topic keeps in the store (actors/topic_store.hpp); empty: none.
    std::string durable;
  };

  struct member {
    caf::actor session;
    entry e;
    mqtt::options_list options; ///< e.options alone
    std::string durable; ///< as subscriber::durable
  };

  struct share_group {
    std::vector<member> members;
    size_t next = 0;
  };

  /// Publishes waiting for credit, in arrival order; `rp` answers the
  /// publisher's connection once they are fanned out.
  struct stashed {
    std::vector<mqtt::message_ptr> msgs;
    caf::response_promise rp;
    bool reply = false;
    /// What the share groups get (null: all of it).
    share_filter_ptr shares;
    /// The events of a time series' owner (fan_out's `events`).
    bool events = false;
    /// A conditional update instead (it decides when its turn comes).
    std::function<void()> run;
  };

  std::string name;
  /// The current value (MQTT: the retained message); empty if none.
  update current;
  /// The last update, retained or not: what the platform API fetches
  /// (docs/platform.md) and `$delta/` subscribers get first. Forgotten
  /// when the topic retires.
  update last;
  /// Subscriptions (and share group members) that want deltas; while there
  /// are any, each update carries its delta from `basis` (the last one).
  size_t delta_entries = 0;
  delta_basis basis;
  /// The payload mapping, for this topic's specification (explicit topics;
  /// null for an implicit one), looked up again when the mapping changes.
  mapping_ptr mapping;
  uint64_t spec_generation = ~uint64_t{0};
  topic_mapping::spec_ptr spec;
  /// A time series topic's events (actors/topic_series.hpp); null for
  /// other topics.
  std::unique_ptr<time_series> series;
  /// The sequence number of the last update fanned out.
  uint64_t seq = 0;
  /// Removed through the API since its last update (a constraint's "no
  /// topic" holds again).
  bool removed = false;
  /// Delivery batches each session has not yet given credit for; a session
  /// at max_outstanding blocks the topic (its publishers wait).
  struct credit {
    uint32_t batches = 0;
    uint64_t bytes = 0; ///< mqtt::footprint of their messages
    bool exhausted() const noexcept;
  };
  std::unordered_map<caf::actor, credit> outstanding;
  size_t blocked = 0;
  std::deque<stashed> stash;
  std::unordered_map<caf::actor, subscriber> subs;
  /// Keyed by group name and filter ("group\0filter").
  std::map<std::string, share_group> groups;
  uint64_t published = 0;
  /// In a node group, the route table (else null), and where this topic's
  /// publishes go as of its version (actors/topic_forward.hpp).
  cluster_routes_ptr routes;
  uint64_t route_version = 0;
  route_plan plan;
  /// The turn of each share group with members on other nodes: which
  /// member, counted over every node's, gets the next message.
  std::unordered_map<std::string, uint64_t> share_turns;
  /// Forwarded batches not yet answered, per node's router (the topic
  /// does not retire while any is).
  std::unordered_map<caf::actor, uint32_t> forwards_in_flight;
  /// A typed topic's owner in the group (its router; null: this node), as
  /// of the route table's version (actors/topic_forward.hpp).
  caf::actor owner;
  uint64_t owner_version = 0;
  /// Idle collection (set by the tree; 0 = never): a topic with no
  /// subscribers, no retained message and nothing waiting asks the tree to
  /// retire it after this long without a publish.
  uint32_t idle_ms = 0;
  topic_tree_interface tree;
  /// The timer wheel when the topic runs on the I/O thread (else CAF's
  /// clock is used, actors/timers.hpp).
  caf::actor timers;
  bool gc_armed = false;
  /// Whether the tree was last told that the topic has a value
  /// (topics/notify).
  bool announced = false;
  uint64_t published_at_ask = 0;
  /// Its removal policy, if its specification has one.
  topic_removal removal;
  /// CONFLATION unsubscribe: plain subscribers whose credit ran out in the
  /// fan-out under way (cut once it is done), and how many were cut.
  std::vector<caf::actor> behind;
  uint64_t cut_behind = 0;
  /// The store (docs/persistence.md; null: nothing is kept), and whether
  /// records were sent to it that a publisher's answer must wait for.
  store_link_ptr store;
  bool unsynced = false;
  /// When this topic actor started (microseconds of the wall clock), set
  /// when it first keeps a persistent session's message: with the
  /// update's number, the message's key in the store.
  uint64_t incarnation = 0;
  /// The bound on retained messages, shared by every topic (null: none).
  retained_budget_ptr retained;

  bool collectable() const noexcept {
    return subs.empty() && groups.empty() && !current && stash.empty()
           && outstanding.empty() && forwards_in_flight.empty();
  }

  static inline const char* name_ = "topic";
};

/// A topic on the scheduler's workers.
using topic_actor_type = caf::stateful_actor<topic_state>;
/// The same topic on the I/O thread (`actors_on_io_thread`).
using topic_broker_type = caf::io::stateful_broker<topic_state>;

/// Delivery batches in flight per subscriber session before a topic waits.
inline constexpr uint32_t max_outstanding_batches = 8;
/// ... or bytes of their messages (mqtt::footprint).
inline constexpr uint64_t max_outstanding_bytes = 65536;

inline bool topic_state::credit::exhausted() const noexcept {
  return batches >= max_outstanding_batches || bytes >= max_outstanding_bytes;
}

/// `mapping` (may be null) tells the topic its specification.
caf::behavior topic_actor(topic_actor_type* self, std::string name,
                          mapping_ptr mapping);
caf::behavior topic_broker(topic_broker_type* self, std::string name,
                           caf::actor timers, mapping_ptr mapping);

} // namespace castor
