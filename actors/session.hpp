#pragma once

// One actor per client identifier: holds the session state (subscriptions,
// in-flight window, queue, inbound QoS 2 identifiers) and the will, outlives
// its connection until the session expiry interval ends, and hands over to a
// new connection on takeover. What it handles: session_interface
// (actors/iface/session.hpp); besides, a down_msg when the attached or
// kicked connection has gone.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/counters.hpp"
#include "actors/iface/registry.hpp"
#include "actors/iface/session.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/store_writer.hpp"
#include "actors/topic.hpp"
#include "actors/types.hpp"
#include "protocol/session_state.hpp"

namespace castor {

struct session_config {
  mqtt::session_limits limits;
  uint32_t max_subscriptions = 10000;
  /// Spawn sessions on the I/O thread (as brokers without sockets).
  bool on_io_thread = false;
  /// The timer wheel, used by sessions on the I/O thread instead of CAF's
  /// clock (actors/timers.hpp).
  caf::actor timers;
  /// Counts subscriptions revoked (may be null).
  std::shared_ptr<broker_counters> counters;
  /// In a node group, this node's part of the client-id registry: a
  /// session that moved to another node asks it for a fence of the group
  /// before it unsubscribes here (actors/cluster_claims.hpp).
  caf::actor claims;
  /// The store (docs/persistence.md; null: off): a session with an expiry
  /// keeps its record there, and erases its messages' records (written
  /// by the topics) once they are delivered or dropped.
  store_link_ptr store;
};

struct session_actor_state {
  std::string client_id;
  registry_interface registry;
  topic_tree_interface tree;
  mqtt::session_state
      mqtt_state; ///< subscriptions, queue, inflight (protocol/)
  session_config cfg;
  caf::actor conn; ///< the attached connection, if any
  /// The rights of the session's principal as they are now (shared with
  /// its connections; null = nothing may be read): deliveries are checked
  /// against them, so a change of roles reaches existing subscriptions.
  mqtt::access_ptr access;
  /// What the session keeps of the last CONNECT (the whole request is
  /// large and most clients have no will).
  struct connect_info {
    std::shared_ptr<const mqtt::will_message> will; ///< null: none (or sent)
    uint32_t will_delay = 0;                        ///< seconds
    uint32_t session_expiry = 0;                    ///< seconds
    bool has_will() const noexcept {
      return will != nullptr;
    }
  } req;
  bool fresh = true;         ///< never attached before
  uint64_t attaches = 0;     ///< attach requests received
  uint64_t epoch = 0;        ///< invalidates older timers
  bool will_pending = false; ///< the will waits for its delay
  /// A takeover waiting for the old connection to go.
  caf::actor kicked;
  /// Attaches waiting for it, in the order they came: the first completes
  /// when the kicked connection has gone, each later one then takes over
  /// from the one before it (CONNECTs of one client id run one at a time).
  struct waiting_attach {
    attach_request ar;
    caf::response_promise rp;
  };
  mqtt::lazy_deque<waiting_attach> waiting;
  bool reset_on_takeover = false;
  /// Handing the session over to another node of the group: answered
  /// once the connection has gone (actors/cluster_claims.hpp).
  caf::response_promise handover;
  bool handing_over = false;
  bool handover_resume = false; ///< the new node wants the state
  /// Handed over: subscribed still, until the new session says its
  /// subscriptions are in force (or a timeout).
  bool handed_over = false;
  /// Taken over from another node: the old session, told once this one's
  /// restored subscriptions are in force.
  caf::actor handover_from;
  /// Taken over from another node, whose session has not yet sent what it
  /// got after the snapshot (it does once this one's subscriptions are in
  /// force).
  bool rest_due = false;
  /// Handed over and unsubscribed, waiting for `rest_due` to pass before
  /// it hands on what it queued: the session it goes to.
  caf::actor moved_to;
  /// Who made the session (its last attach's principal), and its roles.
  std::string principal;
  std::vector<std::string> roles;
  /// The session has a record in the store.
  bool stored = false;
  /// Packets to the connection that wait until the store has the state
  /// of QoS 2 messages on disk (send_out): whether a sync is asked, and
  /// whether another must follow it (records written since).
  bool store_waiting = false;
  bool store_again = false;
  std::vector<mqtt::outbound> store_held;
  /// The answer to an attach that restored another node's state, sent
  /// once the restored subscriptions are in force (complete_attach).
  std::function<void()> restored_answer;
  /// Its node's claims actor has been told of it (its replica, in a group).
  bool replicated = false;
  /// ... and of its will waiting for its delay (replicate_will).
  bool will_replicated = false;
  /// Credit owed to topics (delivery batches taken): paid in batches of
  /// credit_batch, and all at once when the session stops being congested.
  struct owed_credit {
    uint32_t batches = 0;
    uint64_t bytes = 0;
  };
  std::unordered_map<caf::actor, owed_credit> owed;
  bool credit_held = false; ///< congested: pay all of `owed` once it ends
  bool ended = false;
  /// SUBSCRIBE requests whose topics have not all answered. Meanwhile
  /// deliveries wait in `held` (null while none do), so that the client
  /// gets the retained messages of a new subscription before anything
  /// published after them.
  uint32_t subscribing = 0;
  std::unique_ptr<std::vector<std::pair<caf::actor, update_batch>>> held;

  static inline const char* name = "session";
};

/// A session on the scheduler's workers.
using session_actor_type = caf::stateful_actor<session_actor_state>;
/// The same session on the I/O thread, beside the connections
/// (`actors_on_io_thread`): messages between them need no thread hand-off.
using session_broker_type = caf::io::stateful_broker<session_actor_state>;

caf::behavior session_actor(session_actor_type* self, std::string client_id,
                            registry_interface registry,
                            topic_tree_interface tree, session_config cfg);
caf::behavior session_broker(session_broker_type* self, std::string client_id,
                             registry_interface registry,
                             topic_tree_interface tree, session_config cfg);

} // namespace castor
