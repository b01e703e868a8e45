#pragma once

// The messages between the node agents of a node group (docs/cluster.md),
// which cross nodes through CAF's middleman (BASP): inspect() and the
// type-id block `castor_cluster`. Every node registers the block.
//
// Joining is a challenge and response over the group's secret, so that a
// node that cannot prove it is refused and a recorded exchange cannot be
// replayed:
//
//   A -> B: (cl_hello_atom, cluster_hello)      -> cluster_challenge
//   A -> B: (cl_proof_atom, cluster_proof)      -> cluster_welcome
//
// cluster_hello carries A's nonce; B answers with its own nonce and a MAC
// over both nonces and its identity; A checks it and answers with a MAC
// over the same. From then on each holds the other as a member:
//
//   member -> member: (cl_beat_atom, node, incarnation)     heartbeat
//   member -> member: (cl_members_atom, vector<cluster_member>)
//                                              the members it knows
//   member -> member: (cl_leave_atom, node, incarnation)    leaving
//   member -> member: (cl_stats_atom, node, incarnation, cluster_node_stats)
//                          its own figures, with each heartbeat
//   member -> member: (cl_routes_atom, cluster_route_update) -> bool
//                          its filters (all of them, or what changed),
//                          answered once taken (a SUBACK waits for it)
//
// A heartbeat, member list or leave from an actor that is not a member is
// ignored; a route update waits (bounded) until its sender has joined, as
// it may overtake the welcome.
//
// Publishes cross from a topic actor to the router of each node whose
// filters match (actors/cluster_router.hpp), once per batch and node:
//
//   topic -> router: (publish_atom, publish_batch) -> bool
//
// answered once the node's topic has fanned the batch out (QoS 0 too: a
// topic keeps at most 64 batches unanswered per node). For a share group
// with members on several nodes, the publishing node picks the node of
// each message, in turn by member count; the batch names what each share
// group there gets (publish_batch::picks), and a node that has only share
// groups for the topic gets only their messages.
//
// When two nodes become members of each other, each sends the other its
// retained messages, which fill in the topics that have none there:
//
//   router -> router: (cl_sync_atom, publish_batch)      at most 1,000 each
//
// sessions/list on one node lists the sessions of every member; each
// member's router answers from its node's session directory:
//
//   node -> router: (cl_sessions_atom, filter, after, limit)
//                                              -> cluster_session_page
//
// sessions/close closes the sessions it names or selects on every member:
//
//   node -> router: (close_atom, session id, filter) -> cluster_closed
//
// sessions/get, sessions/set-properties and sessions/change-roles of a
// session that is not on the node asked go to every member; the one that
// has the session answers (code "" or an error code; the others
// NO_SUCH_SESSION):
//
//   node -> router: (cl_sget_atom, id) -> (code, session JSON or message)
//   node -> router: (cl_sput_atom, id, names and values) -> (code, bool)
//   node -> router: (cl_sroles_atom, id, add, remove) -> (code, roles)
//   node -> router: (cl_sconn_atom, id) -> (code, the session's connection)
//                    sessions/subscribe then asks the connection itself
//   node -> router: (cl_sreach_atom, filter, limit) -> cluster_reach
//                    the connected sessions for messages/send-to-filter
//
// The group's client-id registry (actors/cluster_claims.hpp) goes through
// the routers too, to each node's claims actor: (claim_atom, id, node) ->
// the previous holder, (claimed_atom, id, claimer, holder), (release_atom,
// id, node), (claim_atom, ids, node), (kick_atom, id) (the id's session
// on the node told ends: another node holds it), and (handover_atom, id,
// resume, principal) -> session_snapshot (actors/types.hpp). The old
// session and
// the new one then talk directly: (handover_atom) and (handover_atom,
// session_snapshot). A version 2 node answers the claims with an error:
// the claimer then opens the session on its own.
//
// A persistent session's node sends its replica to the session's keeper
// (actors/cluster_replicas.hpp), which resumes it if the node leaves:
//
//   node -> router: (replica_atom, vector<session_replica>)   whole ones
//   node -> router: (replica_atom, ids, holder)   the holder's sessions of
//                                                 these ids have ended
//
// Typed topics (docs/cluster.md, "Typed topics"): the topics the API adds
// or removes on one node are added or removed on every member, and a
// member that joins gets all of them:
//
//   api -> router: (cl_topic_atom, vector<cluster_topic>)
//   router -> agent -> router: the same, when two nodes become members
//
// A typed topic has one owner, the member with the highest rendezvous hash
// of its name; the other members' topics hand it their publishes and
// conditional updates, and it fans them out to every member in its order:
//
//   topic -> router: (cl_owner_atom, publish_batch) -> bool
//   topic -> router: (cl_owner_atom, conditional_update) -> update_outcome
//   topic -> router: (cl_owner_atom, series_request) -> series_answer
//
// A time series' owner makes its events (numbered, timestamped) and sends
// them to every member, which keeps them as made:
//
//   topic -> router: (cl_events_atom, publish_batch) -> bool
//
// Message handlers (docs/cluster.md, "Request-response messaging"): each
// router sends the members all of its node's registrations when they
// change, and to a member that joins; a request then goes from the
// requester's connection straight to the handler's on its node:
//
//   router -> router: (cl_handler_atom, cluster_handlers)
//
// Missing-topic handlers likewise (docs/cluster.md, "Missing-topic
// handlers"): a request goes to the handler's connection on its node.
//
//   router -> router: (cl_missing_atom, cluster_handlers)
//
// Typed topics' values (docs/cluster.md, "Partitions"): a second after
// the members last changed, each typed topic this node owns sends its
// value to every member's router (the way its updates go, so never after
// a newer one); a topic takes one from its owner only (the sides of a
// healed partition held different values):
//
//   topic -> router: (cl_values_atom, publish_batch)   one value
//
// Session locks (docs/cluster.md, "Locks"): the member that has run
// longest keeps the group's locks; the other members' lock actors hand it
// their sessions' requests, and tell it when a session ends:
//
//   locks -> router: (cl_lock_atom, lock_acquire_atom, lock, session,
//                     connection, wait_ms, on_disconnect)
//                    -> (code, token)
//   locks -> router: (cl_lock_atom, lock_release_atom, lock, session)
//                    -> bool
//   locks -> router: (cl_lock_atom, lock_closed_atom, session)
//   locks -> router: (cl_lock_atom, update_atom, conditional_update,
//                     session, lock names) -> update_outcome
//
// The security store (docs/cluster.md, "The security store"): the same
// member keeps it; each node's store actor (app/store_group.hpp) passes it
// the REST API's edits and reloaded store files, and asks it for its store:
//
//   store -> router: (cl_store_atom, http::request)
//                    -> (http::response, store text)
//   store -> router: (cl_store_atom, update_atom, store text) -> bool
//   store -> router: (cl_store_atom, digest) -> store text, "" if the same
//   store -> router: (cl_store_atom)    the keeper's store changed

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/type_id.hpp>

namespace castor {

using cl_hello_atom = caf::atom_constant<caf::atom("clhello")>;
using cl_proof_atom = caf::atom_constant<caf::atom("clproof")>;
using cl_beat_atom = caf::atom_constant<caf::atom("clbeat")>;
using cl_members_atom = caf::atom_constant<caf::atom("clmembers")>;
using cl_leave_atom = caf::atom_constant<caf::atom("clleave")>;
using cl_routes_atom = caf::atom_constant<caf::atom("clroutes")>;
/// Within a node: the topic tree tells the agent of a filter's first
/// subscriber (true) or last (false); the agent's own flush timer.
using cl_route_atom = caf::atom_constant<caf::atom("clroute")>;
using cl_flush_atom = caf::atom_constant<caf::atom("clflush")>;
/// Retained messages for a member that joined (router -> router), and
/// within a node (router <-> tree <-> topics).
using cl_sync_atom = caf::atom_constant<caf::atom("clsync")>;
/// A member's own figures, sent with each heartbeat (group-wide metrics).
using cl_stats_atom = caf::atom_constant<caf::atom("clstats")>;
/// A page of a node's sessions, for sessions/list on another node.
using cl_sessions_atom = caf::atom_constant<caf::atom("clsessions")>;
/// sessions/get, set-properties and change-roles of a member's session.
using cl_sget_atom = caf::atom_constant<caf::atom("clsget")>;
using cl_sput_atom = caf::atom_constant<caf::atom("clsput")>;
using cl_sroles_atom = caf::atom_constant<caf::atom("clsroles")>;
using cl_sconn_atom = caf::atom_constant<caf::atom("clsconn")>;
/// A member's connected sessions for messages/send-to-filter.
using cl_sreach_atom = caf::atom_constant<caf::atom("clsreach")>;
/// Typed topics the API added or removed, for every member.
using cl_topic_atom = caf::atom_constant<caf::atom("cltopic")>;
/// A typed topic's publishes and conditional updates, to its owner.
using cl_owner_atom = caf::atom_constant<caf::atom("clowner")>;
/// A time series' events as its owner made them, to every member.
using cl_events_atom = caf::atom_constant<caf::atom("clevents")>;
/// A member's message handlers (and the router's own timer).
using cl_handler_atom = caf::atom_constant<caf::atom("clhandler")>;
/// A member's missing-topic handlers.
using cl_missing_atom = caf::atom_constant<caf::atom("clmissing")>;
/// A member's lock requests, for the group's lock keeper.
using cl_lock_atom = caf::atom_constant<caf::atom("cllock")>;
/// Typed topics' values, from their owners once the members have stopped
/// changing (a partition healed), for every member.
using cl_values_atom = caf::atom_constant<caf::atom("clvalues")>;
/// The group's security store, kept by the same member as the locks.
using cl_store_atom = caf::atom_constant<caf::atom("clstore")>;

/// The version of the group protocol this build speaks, and the oldest it
/// still accepts (a rolling upgrade runs two versions side by side).
/// 2: share groups in route updates, and the share picks of forwarded
/// batches (a version 1 node would deliver to every share group).
/// 3: the client-id registry (claims and session handover).
/// 4: fences (a session that moved waits for what members forwarded to
/// its old node); an older node answers them with an error, which ends
/// its part of the fence.
/// 5: replicas of persistent sessions (actors/cluster_replicas.hpp); an
/// older node drops them (counted as unexpected messages).
/// 6: typed topics shared by the group (their specifications on every
/// member, their updates ordered by an owner); an older node drops the
/// specifications and answers the owner's messages with an error (its
/// publishes to a typed topic are then taken where they were made). And
/// message handlers shared by the group (an older node drops them).
/// 7: wills in session replicas (a client's will goes to the keeper of its
/// session's replica, which publishes it if the client's node dies); an
/// older node cannot read replicas from version 7, nor a version 7 node
/// those of an older one: CAF drops them (logged), so sessions have no
/// replica on a member of the other version during a rolling upgrade.
/// 8: time series ordered by their owner, which sends every member the
/// events it made (cl_events_atom) and takes the members' appends and
/// edits; an older node answers these with an error (its publishes to a
/// series are then forwarded as publishes, and numbered where they go).
/// And sessions/close on every member (close_atom); an older node answers
/// with an error (named in the answer's `unanswered`).
/// 9: the group's locks, kept by the member that has run longest
/// (cl_lock_atom); an older keeper answers these with an error, and the
/// node that asked then keeps the lock itself, as before. And
/// sessions/get, set-properties, change-roles and subscribe of members'
/// sessions (cl_sget_atom, cl_sput_atom, cl_sroles_atom, cl_sconn_atom);
/// an older node answers with an error, as one that does not have the
/// session. And members' missing-topic handlers (cl_missing_atom); an
/// older node drops them (its requests for missing topics stay its own).
/// 10: the group's security store, kept by the same member as the locks
/// (cl_store_atom); an older keeper answers with an error, and each node
/// then keeps its own store, as before. And messages/send-to-filter to
/// members' sessions (cl_sreach_atom); an older node answers with an error
/// (named in the answer's `unanswered`). And the end of one of two
/// sessions of a client id that both sides of a partition took (kick_atom);
/// an older node drops it (both sessions stay until the next CONNECT).
/// And typed topics' values from their owners once the members stop
/// changing (cl_values_atom); an older node drops them.
inline constexpr uint32_t cluster_protocol_version = 10;
inline constexpr uint32_t cluster_protocol_min_version = 2;

/// One node of the group as the others see it.
struct cluster_member {
  std::string node; ///< its node name, unique in the group
  std::string host; ///< where its cluster endpoint is reached
  uint16_t port = 0;
  uint64_t incarnation = 0; ///< its start time (ms); a restart is newer
};

struct cluster_hello {
  uint32_t version = 0;
  std::string group;
  cluster_member from;
  std::string nonce;
};

struct cluster_challenge {
  /// Empty when the hello is accepted so far; else why it is refused.
  std::string refused;
  uint32_t version = 0; ///< the version both will speak
  cluster_member from;
  std::string nonce;
  std::string mac;
};

struct cluster_proof {
  std::string nonce; ///< the challenge's nonce
  std::string mac;
};

struct cluster_welcome {
  std::string refused; ///< empty when joined
  /// The members the accepting node knows, itself included.
  std::vector<cluster_member> members;
};

/// A share group on a member: "group\0filter" (the filter as subscribed
/// after `$share/group/`, `$delta/` included) and how many sessions of the
/// member are in it (0: none any more).
struct cluster_share {
  std::string key;
  uint32_t members = 0;
};

/// A member's filters (what topic names are matched against: never shared,
/// never `$delta/`) and share groups, and the router that takes its
/// publishes.
struct cluster_route_update {
  std::string node;
  uint64_t incarnation = 0;
  caf::actor router;
  bool full = false; ///< `add` and `shares` are all it has
  std::vector<std::string> add;
  std::vector<std::string> remove;
  std::vector<cluster_share> shares;
};

/// A node's own figures, as the other members' /metrics show them with a
/// `node` label.
struct cluster_node_stats {
  uint64_t connections = 0; ///< MQTT connections open
  uint64_t sessions_connected = 0;
  uint64_t sessions_offline = 0;
  uint64_t subscriptions = 0;
  uint64_t messages_received = 0; ///< PUBLISH packets, every QoS, in total
  uint64_t messages_sent = 0;
};

/// A topic the API added (its type and properties, as the API takes them)
/// or removed (with `forget`, its value too: topics/remove).
struct cluster_topic {
  std::string path;
  std::string type;
  std::vector<std::pair<std::string, std::string>> properties;
  bool removed = false;
  bool forget = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_topic& x) {
  return f(caf::meta::type_name("cluster_topic"), x.path, x.type, x.properties,
           x.removed, x.forget);
}

/// A member's message handlers, all of them: registration i is paths[i]
/// of the connection owners[i].
struct cluster_handlers {
  std::string node;
  std::vector<std::string> paths;
  std::vector<caf::actor> owners;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_handlers& x) {
  return f(caf::meta::type_name("cluster_handlers"), x.node, x.paths, x.owners);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_node_stats& x) {
  return f(caf::meta::type_name("cluster_node_stats"), x.connections,
           x.sessions_connected, x.sessions_offline, x.subscriptions,
           x.messages_received, x.messages_sent);
}

/// A session as a member lists it: its id and properties.
struct cluster_session {
  std::string id;
  std::vector<std::pair<std::string, std::string>> properties;
};

/// A member's sessions that a filter selects, by id after a cursor, and
/// whether it has more.
struct cluster_session_page {
  std::vector<cluster_session> sessions;
  bool more = false;
};

/// What sessions/close did on one member: the sessions whose connections
/// it closed, those it found offline, and whether it has the session the
/// request named by id.
struct cluster_closed {
  uint64_t closed = 0;
  uint64_t offline = 0;
  bool found = false;
};

/// A member's connected sessions that a filter selects (at most the limit
/// asked for), with their connections, for messages/send-to-filter; `more`
/// when it has more.
struct cluster_reach {
  std::vector<std::string> ids;
  std::vector<caf::actor> connections;
  bool more = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_reach& x) {
  return f(caf::meta::type_name("cluster_reach"), x.ids, x.connections, x.more);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_closed& x) {
  return f(caf::meta::type_name("cluster_closed"), x.closed, x.offline,
           x.found);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_session& x) {
  return f(caf::meta::type_name("cluster_session"), x.id, x.properties);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_session_page& x) {
  return f(caf::meta::type_name("cluster_session_page"), x.sessions, x.more);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_share& x) {
  return f(caf::meta::type_name("cluster_share"), x.key, x.members);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_route_update& x) {
  return f(caf::meta::type_name("cluster_route_update"), x.node, x.incarnation,
           x.router, x.full, x.add, x.remove, x.shares);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_member& x) {
  return f(caf::meta::type_name("cluster_member"), x.node, x.host, x.port,
           x.incarnation);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_hello& x) {
  return f(caf::meta::type_name("cluster_hello"), x.version, x.group, x.from,
           x.nonce);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_challenge& x) {
  return f(caf::meta::type_name("cluster_challenge"), x.refused, x.version,
           x.from, x.nonce, x.mac);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_proof& x) {
  return f(caf::meta::type_name("cluster_proof"), x.nonce, x.mac);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_welcome& x) {
  return f(caf::meta::type_name("cluster_welcome"), x.refused, x.members);
}

} // namespace castor

// actors/types.hpp's block starts at caf::first_custom_type_id; the others
// at +200 (authenticators), +300 (handles), +400 (messaging), +500 (HTTP).
CAF_BEGIN_TYPE_ID_BLOCK(castor_cluster, caf::first_custom_type_id + 600)

CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_member))
CAF_ADD_TYPE_ID(castor_cluster, (std::vector<castor::cluster_member>))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_hello))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_challenge))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_proof))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_welcome))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_route_update))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_session_page))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_node_stats))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_topic))
CAF_ADD_TYPE_ID(castor_cluster, (std::vector<castor::cluster_topic>))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_handlers))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_closed))
CAF_ADD_TYPE_ID(castor_cluster, (castor::cluster_reach))

CAF_END_TYPE_ID_BLOCK(castor_cluster)
