#pragma once

// The router of a node group's member (docs/cluster.md, "Routing"): takes
// the publishes other nodes' topics forward here and hands them to this
// node's topic of the same name, through the tree, marked as remote so
// that they reach local subscribers only and are never forwarded again.
// It takes them from members' nodes only. Every batch is answered by the
// topic here once it has fanned it out: a publisher's PUBACK/PUBREC waits
// for the nodes its QoS 1 or 2 batch went to (bounded by
// cluster_forward_timeout), and the forwarding topic counts what each node
// has not answered yet (actors/topic_forward.hpp).
//
// It also carries retained messages between two nodes that have become
// members of each other: it gathers this node's from the tree and sends
// them to the member's agent (as this node's agent, whom the member
// knows), and hands a member's on to the tree, which gives each to its
// topic if that has no retained message of its own.
//
// And it lists this node's sessions for sessions/list on another member
// (from `sessions`, the node's session directory; none without one), and
// hands members' messages for the group's client-id registry to this
// node's part of it (`claims`, actors/cluster_claims.hpp).
//
// Typed topics (actors/cluster_topics.hpp): it takes the topics members'
// APIs added or removed into this node's `mapping`, and hands a typed
// topic's publishes and conditional updates from other members to its
// topic here, as the topic's owner. And it shares this node's message
// handlers and missing-topic handlers with the members
// (actors/cluster_handlers.hpp), and hands the
// members' lock requests to this node's lock actor, for it as the group's
// lock keeper (actors/locks.hpp), and the members' edits and requests
// of the security store to this node's store actor, for it as the keeper
// of the group's store (app/store_group.hpp).

#include <chrono>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/cluster_routes.hpp"
#include "actors/iface/locks.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/messaging.hpp"
#include "actors/missing_topics.hpp"
#include "actors/session_directory.hpp"
#include "protocol/topic_mapping.hpp"

namespace castor {

/// How long a topic waits for a node's answer to a forwarded QoS 1 or 2
/// batch before it answers its publisher without it.
inline constexpr std::chrono::seconds cluster_forward_timeout{5};

/// A page of this node's sessions holds this many at most, whatever a
/// member asks for.
inline constexpr uint32_t cluster_session_page_max = 1000;

/// What a router serves besides the tree's publishes (each may be null).
struct router_options {
  /// This node's session directory (sessions/list of members).
  session_directory_ptr sessions;
  /// This node's part of the client-id registry.
  caf::actor claims;
  /// This node's payload mapping (the typed topics of members' APIs), and
  /// how long a topic members removed waits unused before it retires.
  mapping_ptr mapping;
  uint32_t topic_idle_ms = 0;
  /// This node's message handlers and missing-topic handlers
  /// (actors/cluster_handlers.hpp).
  handlers_ptr handlers;
  missing_ptr missing;
  /// This node's lock actor, which keeps the group's locks while this node
  /// is the keeper (actors/locks.hpp).
  locks_interface locks;
  /// This node's store actor, which keeps the group's security store
  /// while this node is the keeper (app/store_group.hpp).
  caf::actor store;
};

caf::actor spawn_cluster_router(caf::actor_system& sys,
                                topic_tree_interface tree,
                                cluster_routes_ptr routes,
                                router_options opts = {});

} // namespace castor
