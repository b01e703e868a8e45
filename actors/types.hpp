#pragma once

// Every message type that travels between Castor's actors, with inspect()
// so that each can be serialized (to cross nodes later) and printed, and the
// type-id block `castor` registering them (the authenticator chain's
// messages have their own block, actors/authenticator_types.hpp).
//
// MQTT properties and shared messages are inspected in their MQTT 5.0 wire
// form (an encoded PUBLISH), so the properties table lives in one place: the
// codec.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

#include "protocol/channel.hpp"
#include "protocol/conditional_update.hpp"
#include "protocol/series_event.hpp"
#include "protocol/mqtt_subscriber.hpp"
#include "protocol/packet.hpp"
#include "protocol/session_state.hpp"
#include "protocol/session_state_message.hpp"
#include "protocol/topic_selector.hpp"
#include "protocol/update.hpp"

namespace castor {

// -- atoms --------------------------------------------------------------------

using attach_atom = caf::atom_constant<caf::atom("attach")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using kick_atom = caf::atom_constant<caf::atom("kick")>;
using end_atom = caf::atom_constant<caf::atom("end")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using publish_atom = caf::atom_constant<caf::atom("publish")>;
/// A publish batch sent without asking for an answer (QoS 0).
using push_atom = caf::atom_constant<caf::atom("push")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsub_atom = caf::atom_constant<caf::atom("unsub")>;
using unsub_all_atom = caf::atom_constant<caf::atom("unsuball")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using will_atom = caf::atom_constant<caf::atom("will")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using promote_atom = caf::atom_constant<caf::atom("promote")>;
using out_atom = caf::atom_constant<caf::atom("out")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using schedule_atom = caf::atom_constant<caf::atom("schedule")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using redeliver_atom = caf::atom_constant<caf::atom("redeliver")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using flow_atom = caf::atom_constant<caf::atom("flow")>;
using credit_atom = caf::atom_constant<caf::atom("credit")>;
/// Connection -> session: (written_atom, bytes) of what the session handed
/// it have been written (session_limits::max_unwritten_bytes).
using written_atom = caf::atom_constant<caf::atom("written")>;
using slow_atom = caf::atom_constant<caf::atom("slow")>;
/// Tree -> topic: collect yourself after this long without use.
using gc_config_atom = caf::atom_constant<caf::atom("gcconf")>;
/// Topic -> itself: is it still idle?
using gc_check_atom = caf::atom_constant<caf::atom("gccheck")>;
/// Topic -> itself: is its removal policy due (actors/topic_removal.hpp)?
using removal_check_atom = caf::atom_constant<caf::atom("rmcheck")>;
/// API request actor -> topic: (adder_atom, actor) the session (or
/// connection) that added you, for a policy's `this session closes`.
using adder_atom = caf::atom_constant<caf::atom("adder")>;
/// Subscription gate -> connection: a subscription change it waited for
/// has ended (actors/subscription_gate.hpp).
using gate_open_atom = caf::atom_constant<caf::atom("gateopen")>;
/// Topic -> tree: I am idle; tree -> topic: retire now if still idle.
using retire_atom = caf::atom_constant<caf::atom("retire")>;
/// A topic's value, or the topics a filter matches (the platform API).
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
/// API request actor -> topic: never retire (added through the API).
using keep_atom = caf::atom_constant<caf::atom("keep")>;
/// API request actor -> topic: forget your value and retained message.
using remove_atom = caf::atom_constant<caf::atom("remove")>;
/// Connection -> API request actor: run it, answer the JSON.
using api_atom = caf::atom_constant<caf::atom("api")>;
/// API -> topic: (update_atom, conditional_update) -> update_outcome.
using update_atom = caf::atom_constant<caf::atom("update")>;
/// API -> topic: (series_atom, series_request) -> series_answer.
using series_atom = caf::atom_constant<caf::atom("series")>;
/// topics/notify: API -> tree (notify_atom, topic_watch); tree and API ->
/// connection (notify_atom, topic, correlation, has it, JSON event).
using notify_atom = caf::atom_constant<caf::atom("notify")>;
/// sessions/close: API -> connection (close_atom).
using close_atom = caf::atom_constant<caf::atom("close")>;
/// API -> connection: sessions/change-roles.
using roles_atom = caf::atom_constant<caf::atom("roles")>;
/// topics/unnotify: API -> tree (unnotify_atom, watcher, selector).
using unnotify_atom = caf::atom_constant<caf::atom("unnotify")>;
/// Topic -> tree: (exists_atom, name, bool) the topic gained a value or
/// lost it (topics/notify).
using exists_atom = caf::atom_constant<caf::atom("exists")>;
/// Rights changed: the server -> the registry -> sessions, which drop the
/// subscriptions their rights no longer allow.
using revoke_atom = caf::atom_constant<caf::atom("revoke")>;
/// sessions/get: API -> session, its subscriptions.
using subs_atom = caf::atom_constant<caf::atom("subs")>;
/// A node group's client-id registry (actors/cluster_claims.hpp): a
/// CONNECT claims its client id at the id's owner node; the node that held
/// it hands the session over (registry -> session) and forgets it.
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using claimed_atom = caf::atom_constant<caf::atom("claimed")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using handover_atom = caf::atom_constant<caf::atom("handover")>;
/// A fence: every publish a node forwarded before it has been fanned out
/// where it went (actors/cluster_claims.hpp).
using fence_atom = caf::atom_constant<caf::atom("fence")>;
/// A persistent session's replica on another node of the group, which
/// resumes the session if its node dies (actors/cluster_claims.hpp).
using replica_atom = caf::atom_constant<caf::atom("replica")>;
/// The store writer (actors/store_writer.hpp): a record to keep, a wait
/// until what was written before is on disk, a backup; and a topic's
/// values read back at startup.
using store_atom = caf::atom_constant<caf::atom("store")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using backup_atom = caf::atom_constant<caf::atom("backup")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;

/// Modes of (flow_atom, uint8_t) from a connection to its session.
enum class flow_mode : uint8_t {
  open = 0,         ///< outbound bytes drain: send
  paused = 1,       ///< not draining: queue
  paused_drop0 = 2, ///< slow consumer with policy drop_qos0
};

// -- messages -----------------------------------------------------------------

/// In a node group: the messages of a batch (their positions in it) that
/// one share group ("group\0filter") gets on the node the batch goes to;
/// the publishing node picks one node per message and share group
/// (actors/topic_forward.hpp).
struct share_pick {
  std::string key;
  std::vector<uint32_t> indices; ///< ascending
};

/// Connection -> topic: the messages one read produced for that topic.
struct publish_batch {
  std::vector<mqtt::message_ptr> msgs;
  /// Forwarded by another node of the group (actors/cluster_router.hpp):
  /// for this node's subscribers only, never forwarded again. Set by the
  /// router that takes it, not carried across.
  bool remote = false;
  /// Handed to this node as the owner of its typed topic by another
  /// member: taken here, never handed on to another owner. Set by the
  /// router that takes it, not carried across.
  bool owned = false;
  /// The events a time series' owner made (cl_events_atom), which this
  /// node keeps as made. Set by the router that takes it, not carried
  /// across.
  bool events = false;
  /// Forwarded: the share groups of the receiving node get the messages
  /// picked for them here, and no others; with `shares_only`, its plain
  /// subscribers get none (the batch holds what its share groups get).
  std::vector<share_pick> picks = {};
  bool shares_only = false;
};

/// Topic -> session: updates for one subscriber session, with the options
/// of its subscriptions to the topic, which the session's MQTT adapter
/// applies (protocol/mqtt_subscriber.hpp). `items` is shared by every
/// plain subscriber of one fan-out.
struct update_batch {
  update_list items;
  mqtt::options_list options;
  /// To this session as one member of a share group (`options` holds that
  /// subscription's only).
  bool shared = false;
  /// What the topic counted for the batch's credit (the items' footprint,
  /// computed once per fan-out): the session gives back the same.
  uint64_t bytes = 0;
  /// The topic kept this session's QoS 1 and 2 deliveries of the batch in
  /// the store (a persistent session, docs/persistence.md): the topic's
  /// incarnation their keys name (records::message_key); 0: not kept.
  /// Local: not serialized.
  uint64_t stored = 0;
};

/// Session -> tree -> topic: updates a leaving member of a share group did
/// not get acknowledged, for the other members.
struct share_redelivery {
  std::vector<update> items;
};

/// Session -> connection: packets to write.
struct outbound_batch {
  std::vector<mqtt::outbound> items;
};

/// What became of an outbound QoS 1 or 2 message.
enum class ack_kind : uint8_t {
  dropped, ///< not sent: larger than the client's maximum packet size
  puback,  ///< QoS 1 acknowledged
  pubrec,  ///< QoS 2 received (`code` says whether the client took it)
  pubcomp, ///< QoS 2 complete
};

/// One acknowledgement of an outbound message by the client.
struct ack_item {
  ack_kind kind = ack_kind::dropped;
  uint16_t packet_id = 0;
  mqtt::reason_code code = mqtt::reason_code::success;
};

/// Connection -> session: the acknowledgements of one read.
struct ack_batch {
  std::vector<ack_item> items;
};

/// A session moved from one node of a group to another (a CONNECT of its
/// client id on the other node): its subscriptions, the QoS 1/2 messages
/// the client has not acknowledged (in flight, then queued, in order) and
/// the QoS 2 packet identifiers it sent that await PUBREL
/// (actors/cluster_claims.hpp).
struct session_snapshot {
  bool present = false; ///< there was a session (the rest is its state)
  /// The session belongs to another principal and stays where it is: the
  /// CONNECT is refused (0x87).
  bool refused = false;
  std::vector<mqtt::subscription> subs;
  std::vector<uint32_t> subscription_ids; ///< one per subscription, 0: none
  std::vector<mqtt::delivery> messages;
  std::vector<uint16_t> qos2_ids;
  /// The old session, which stays subscribed (queueing what comes) until
  /// the new one's subscriptions are in force in the group, then hands on
  /// what it queued meanwhile and ends.
  caf::actor from;
};

/// A persistent session as the store keeps it (docs/persistence.md): the
/// "c:" record of its client id, and its messages (the "q:" records).
struct stored_session {
  std::string client_id;
  std::string principal;
  std::vector<std::string> roles;
  uint32_t expiry = 0; ///< seconds (0xFFFFFFFF: none)
  std::vector<mqtt::subscription> subs;
  std::vector<uint32_t> subscription_ids; ///< one per subscription, 0: none
  bool has_will = false;
  mqtt::will_message will;
  uint32_t will_delay = 0;
  /// A connection was attached (or its will waited for its delay) when
  /// the record was written: after a restart the will goes out, once its
  /// delay has passed, unless the client connects first.
  bool will_due = false;
  /// Inbound QoS 2 packet identifiers not yet released (PUBREL).
  std::vector<uint16_t> qos2_ids;
  /// Its QoS 1 and 2 messages, in the order of their keys (per topic, as
  /// published); `packet_id` set for a QoS 2 message already sent, and
  /// `released` once the client has received it (PUBREL goes next).
  struct message {
    mqtt::delivery d;
    uint16_t packet_id = 0;
    bool released = false;
  };
  std::vector<message> messages;
  /// The rights of its principal now, to check its deliveries against.
  /// Local: not serialized.
  mqtt::access_ptr access{};
};

/// What another node of a group keeps of a persistent session, to resume
/// it with if the session's node dies (actors/cluster_claims.hpp): its
/// subscriptions, who it belongs to and how long it outlives its node.
/// A session sends its changes to its node's claims actor (`full` false:
/// `subs` are added, `remove` gone); that one sends whole replicas on.
struct session_replica {
  std::string client_id;
  std::string holder; ///< the node that holds the session
  std::string principal;
  /// Session expiry interval (s; 0xFFFFFFFF: none). 0: nothing to keep.
  uint32_t expiry = 0;
  bool full = false; ///< `subs` are all the subscriptions
  std::vector<mqtt::subscription> subs;
  std::vector<uint32_t> subscription_ids; ///< one per subscription, 0: none
  std::vector<std::string> remove;        ///< filters no longer subscribed
  /// The holder has left the group (a replica handed to a new owner):
  /// `expiry` (and `will_delay`) is what is left of it.
  bool orphan = false;
  /// The will of the client id's connection on the holder, or of its
  /// session once the connection has gone and the will waits for its
  /// delay (docs/cluster.md, "When a node dies"): the keeper publishes it
  /// if the holder leaves the group before it went out or was cancelled
  /// there. A replica with a will and expiry 0 is kept for the will only.
  bool has_will = false;
  mqtt::will_message will;
  /// Seconds after the holder's loss before the will goes out (its delay,
  /// at most the session's expiry).
  uint32_t will_delay = 0;
  /// A change of the will only (`has_will` false: it has gone), from the
  /// connection or session that holds it. Local: not serialized.
  bool will_part = false;
};

/// Connection -> registry -> session: attach this connection.
struct attach_request {
  mqtt::session_request req;
  caf::actor connection;
  /// Who the client authenticated as ("" = anonymous): a session belongs
  /// to the principal that made it.
  std::string principal{};
  /// Its roles, as its authentication gave them (kept with a persistent
  /// session, to check its deliveries after a restart). Local.
  std::vector<std::string> roles{};
  /// That principal's rights (null = nothing may be read), which the
  /// session checks its deliveries against. Local: not serialized.
  mqtt::access_ptr access{};
  /// The session as another node of the group held it, to start from
  /// (a CONNECT without clean start). Local: not serialized.
  std::shared_ptr<const session_snapshot> restore{};
};

/// Session -> connection: the answer to attach_request.
struct attach_result {
  caf::actor session;
  bool session_present = false;
  std::vector<uint16_t> qos2_ids;
  /// Not success: the registry refused the attach with this CONNACK
  /// reason code (the client id's session belongs to another principal).
  mqtt::reason_code refused = mqtt::reason_code::success;
};

/// The message a will becomes when it is published, from `client_id`.
mqtt::message_ptr make_will_message(const mqtt::will_message& w,
                                    const std::string& client_id);

/// Connection -> session: the connection has gone.
struct detach_info {
  bool publish_will = true;
  bool has_expiry = false; ///< DISCONNECT changed the session expiry
  uint32_t expiry = 0;
  std::vector<uint16_t> qos2_ids;
};

/// The access rights of a subscriber, passed along with its subscriptions
/// so that the topic tree binds a wildcard only to the topics the client
/// may read. As data: the principal and its roles, what its rights are
/// computed from, travel with the subscription (inspect() serialises them);
/// the policy object that answers the checks (the principal's one rights
/// object, security/rights_registry.hpp) is local to this node. A reference
/// without a policy allows nothing: one that crossed a node or came back
/// from storage reads nothing until its receiver looks the principal up in
/// its own registry (`resolved`).
struct access_ref {
  std::string principal;
  std::vector<std::string> roles;
  mqtt::access_ptr ptr; ///< local: not serialised

  bool resolved() const noexcept {
    return ptr != nullptr;
  }
  bool may_read(std::string_view topic) const {
    return ptr != nullptr && ptr->may_read(topic);
  }
};

/// The policy of a server without a security store: everything allowed
/// (one shared object). A null policy allows nothing.
mqtt::access_ptr allow_everything();

/// Reason codes of a SUBACK or UNSUBACK, one per filter.
using subscribe_codes = std::vector<mqtt::reason_code>;

/// Connection -> session: SUBSCRIBE (codes as the channel computed them).
struct subscribe_request {
  std::vector<mqtt::subscription> subs;
  subscribe_codes codes;
  uint32_t subscription_id = 0;
  access_ref access;
};

/// API -> topic tree (topics/notify): tell `watcher`, a connection, of the
/// topics `selector` selects as they gain a value ("added") or lose it
/// ("removed"), where `access` may select them.
struct topic_watch {
  caf::actor watcher;
  std::string selector;
  /// Where the connection writes the events: the request's response
  /// topic and correlation data.
  std::string topic;
  std::string correlation;
  bool has_correlation = false;
  access_ref access;
  /// Also told of selected paths that gain their first topic below them
  /// or lose their last (`branch_added`, `branch_removed`).
  bool branches = false;
  /// The selector, parsed by the tree. Local: not serialized.
  std::shared_ptr<const topic_selector> parsed{};
};

/// Session -> topic tree -> topic: one subscription of one session.
struct topic_subscription {
  caf::actor session;
  std::string filter; ///< without $share/group/
  std::string group;  ///< share group, empty if not shared
  /// What the subscriber's protocol asks of each update; the topic keeps
  /// it and hands it back with the updates, unread.
  mqtt::delivery_options options;
  access_ref access; ///< who may read what
  /// A subscription by selector (`filter` is its selector_key): the
  /// selector, parsed by the topic tree from the key. Local: not
  /// serialized (a receiver parses the key again).
  std::shared_ptr<const topic_selector> selector{};
  /// The subscriber's client identifier: whose subscription a missing-topic
  /// handler is told of (actors/missing_topics.hpp).
  std::string client_id{};
  /// A persistent session with the store on: the topic keeps its QoS 1
  /// and 2 messages in the store before it answers their publishers.
  bool durable = false;
};

/// Session -> topic tree -> topics: remove subscriptions of one session.
struct topic_unsubscription {
  caf::actor session;
  std::vector<std::string> filters; ///< as subscribed ($share/... included)
};

/// The current values (retained messages) of the topics a subscription
/// reaches (topic -> tree -> session).
struct retained_batch {
  std::vector<update> items;
};

// -- wire helpers for inspect() ----------------------------------------------

/// The MQTT 5.0 PUBLISH encoding of a message (plus origin and remaining
/// expiry), and back.
std::string save_message(const mqtt::message& m);
/// A field: its length (4 bytes, little-endian), then its bytes; false if
/// `in` is cut short (what a field was read is taken off `in`).
void put_field(std::string& out, std::string_view s);
bool get_field(std::string_view& in, std::string& out);
mqtt::message_ptr load_message(const std::string& bytes);
std::string save_properties(const mqtt::properties& p);
mqtt::properties load_properties(const std::string& bytes);

// -- inspect ------------------------------------------------------------------

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, publish_batch& x) {
  return f(caf::meta::type_name("publish_batch"), x.msgs, x.picks,
           x.shares_only);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, share_pick& x) {
  return f(caf::meta::type_name("share_pick"), x.key, x.indices);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conditional_update& x) {
  return f(caf::meta::type_name("conditional_update"), x.msg, x.constraint,
           x.patch, x.held_locks);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, update_outcome& x) {
  return f(caf::meta::type_name("update_outcome"), x.code, x.message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, series_request& x) {
  return f(caf::meta::type_name("series_request"), x.op, x.msg, x.original,
           x.query);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, series_event& x) {
  return f(caf::meta::type_name("series_event"), x.seq, x.timestamp, x.author,
           x.is_edit, x.original, x.bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, series_answer& x) {
  return f(caf::meta::type_name("series_answer"), x.code, x.message, x.seq,
           x.timestamp, x.events, x.more);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, update& x) {
  return f(caf::meta::type_name("update"), x.seq, x.type, x.msg, x.delta,
           x.base, x.conflate, x.tidy);
}

/// The shared lists travel as values (copies: only when crossing nodes).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, update_batch& x) {
  std::vector<update> items;
  std::vector<mqtt::delivery_options> options;
  if constexpr (Inspector::reads_state) {
    if (x.items)
      items = *x.items;
    if (x.options)
      options = *x.options;
    return f(caf::meta::type_name("update_batch"), items, options, x.shared,
             x.bytes);
  } else {
    return f(
        caf::meta::type_name("update_batch"), items, options, x.shared, x.bytes,
        caf::meta::load_callback([&]() -> caf::error {
          x.items
              = std::make_shared<const std::vector<update>>(std::move(items));
          x.options
              = std::make_shared<const std::vector<mqtt::delivery_options>>(
                  std::move(options));
          return caf::none;
        }));
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, share_redelivery& x) {
  return f(caf::meta::type_name("share_redelivery"), x.items);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound_batch& x) {
  return f(caf::meta::type_name("outbound_batch"), x.items);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack_item& x) {
  return f(caf::meta::type_name("ack_item"), x.kind, x.packet_id, x.code);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ack_batch& x) {
  return f(caf::meta::type_name("ack_batch"), x.items);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_snapshot& x) {
  return f(caf::meta::type_name("session_snapshot"), x.present, x.refused,
           x.subs, x.subscription_ids, x.messages, x.qos2_ids, x.from);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        stored_session::message& x) {
  return f(caf::meta::type_name("stored_message"), x.d, x.packet_id,
           x.released);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stored_session& x) {
  return f(caf::meta::type_name("stored_session"), x.client_id, x.principal,
           x.roles, x.expiry, x.subs, x.subscription_ids, x.has_will, x.will,
           x.will_delay, x.will_due, x.qos2_ids, x.messages);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_replica& x) {
  return f(caf::meta::type_name("session_replica"), x.client_id, x.holder,
           x.principal, x.expiry, x.full, x.subs, x.subscription_ids, x.remove,
           x.orphan, x.has_will, x.will, x.will_delay);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attach_request& x) {
  return f(caf::meta::type_name("attach_request"), x.req, x.connection,
           x.principal);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, attach_result& x) {
  return f(caf::meta::type_name("attach_result"), x.session, x.session_present,
           x.qos2_ids, x.refused);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, detach_info& x) {
  return f(caf::meta::type_name("detach_info"), x.publish_will, x.has_expiry,
           x.expiry, x.qos2_ids);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, access_ref& x) {
  return f(caf::meta::type_name("access_ref"), x.principal, x.roles);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, topic_watch& x) {
  return f(caf::meta::type_name("topic_watch"), x.watcher, x.selector, x.topic,
           x.correlation, x.has_correlation, x.access, x.branches);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscribe_request& x) {
  return f(caf::meta::type_name("subscribe_request"), x.subs, x.codes,
           x.subscription_id, x.access);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, topic_subscription& x) {
  return f(caf::meta::type_name("topic_subscription"), x.session, x.filter,
           x.group, x.options, x.access, x.client_id);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, topic_unsubscription& x) {
  return f(caf::meta::type_name("topic_unsubscription"), x.session, x.filters);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retained_batch& x) {
  return f(caf::meta::type_name("retained_batch"), x.items);
}

} // namespace castor

namespace castor::mqtt {

/// A shared message is inspected in its wire form; loading creates a new one.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_ptr& x) {
  std::string wire;
  if constexpr (Inspector::reads_state) {
    if (x)
      wire = castor::save_message(*x);
    return f(caf::meta::type_name("message"), wire);
  } else {
    return f(caf::meta::type_name("message"), wire,
             caf::meta::load_callback([&]() -> caf::error {
               x = castor::load_message(wire);
               return caf::none;
             }));
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, properties& x) {
  std::string wire;
  if constexpr (Inspector::reads_state) {
    wire = castor::save_properties(x);
    return f(caf::meta::type_name("properties"), wire);
  } else {
    return f(caf::meta::type_name("properties"), wire,
             caf::meta::load_callback([&]() -> caf::error {
               x = castor::load_properties(wire);
               return caf::none;
             }));
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_options& x) {
  return f(caf::meta::type_name("delivery_options"), x.max_qos, x.no_local,
           x.retain_as_published, x.subscription_id, x.delta);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscription& x) {
  return f(caf::meta::type_name("subscription"), x.filter, x.max_qos,
           x.no_local, x.retain_as_published, x.retain_handling);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, will_message& x) {
  return f(caf::meta::type_name("will_message"), x.topic, x.payload, x.qos,
           x.retain, x.props);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_request& x) {
  std::string user;
  bool has_user = false;
  mqtt::will_message will;
  if constexpr (Inspector::reads_state) {
    has_user = x.username.has_value();
    if (has_user)
      user = *x.username;
    if (x.will)
      will = *x.will;
    return f(caf::meta::type_name("session_request"), x.client_id,
             x.assigned_id, x.clean_start, x.version, x.session_expiry,
             x.has_will, will, x.will_delay, x.receive_maximum,
             x.maximum_packet_size, x.topic_alias_maximum, has_user, user);
  } else {
    return f(caf::meta::type_name("session_request"), x.client_id,
             x.assigned_id, x.clean_start, x.version, x.session_expiry,
             x.has_will, will, x.will_delay, x.receive_maximum,
             x.maximum_packet_size, x.topic_alias_maximum, has_user, user,
             caf::meta::load_callback([&]() -> caf::error {
               if (has_user)
                 x.username = user;
               else
                 x.username.reset();
               if (x.has_will)
                 x.will = std::make_shared<mqtt::will_message>(std::move(will));
               else
                 x.will.reset();
               return caf::none;
             }));
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery& x) {
  return f(caf::meta::type_name("delivery"), x.msg, x.seq, x.qos, x.retain,
           x.subscription_ids, x.from_share);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, outbound& x) {
  return f(caf::meta::type_name("outbound"), x.type, x.packet_id, x.qos, x.dup,
           x.retain, x.msg, x.subscription_ids);
}

} // namespace castor::mqtt

CAF_BEGIN_TYPE_ID_BLOCK(castor, caf::first_custom_type_id)

CAF_ADD_TYPE_ID(castor, (castor::publish_batch))
CAF_ADD_TYPE_ID(castor, (castor::conditional_update))
CAF_ADD_TYPE_ID(castor, (castor::update_outcome))
CAF_ADD_TYPE_ID(castor, (castor::update_batch))
CAF_ADD_TYPE_ID(castor, (castor::outbound_batch))
CAF_ADD_TYPE_ID(castor, (castor::ack_batch))
CAF_ADD_TYPE_ID(castor, (castor::attach_request))
CAF_ADD_TYPE_ID(castor, (castor::attach_result))
CAF_ADD_TYPE_ID(castor, (castor::detach_info))
CAF_ADD_TYPE_ID(castor, (castor::subscribe_request))
CAF_ADD_TYPE_ID(castor, (castor::topic_subscription))
CAF_ADD_TYPE_ID(castor, (castor::topic_unsubscription))
CAF_ADD_TYPE_ID(castor, (castor::retained_batch))
CAF_ADD_TYPE_ID(castor, (castor::share_redelivery))
CAF_ADD_TYPE_ID(castor, (castor::mqtt::message_ptr))
CAF_ADD_TYPE_ID(castor, (castor::mqtt::session_request))
CAF_ADD_TYPE_ID(castor, (std::vector<uint8_t>))
CAF_ADD_TYPE_ID(castor, (std::vector<std::string>))
CAF_ADD_TYPE_ID(castor, (castor::flow_mode))
CAF_ADD_TYPE_ID(castor, (castor::mqtt::reason_code))
CAF_ADD_TYPE_ID(castor, (castor::subscribe_codes))
CAF_ADD_TYPE_ID(castor, (castor::series_request))
CAF_ADD_TYPE_ID(castor, (castor::series_answer))
CAF_ADD_TYPE_ID(castor, (castor::topic_watch))
CAF_ADD_TYPE_ID(castor, (castor::session_snapshot))
CAF_ADD_TYPE_ID(castor, (castor::session_replica))
CAF_ADD_TYPE_ID(castor, (std::vector<castor::session_replica>))
CAF_ADD_TYPE_ID(castor, (castor::stored_session))
CAF_ADD_TYPE_ID(castor, (std::vector<castor::stored_session>))

CAF_END_TYPE_ID_BLOCK(castor)
