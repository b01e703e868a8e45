#pragma once

// The client-id registry of a node group (docs/cluster.md, "Sessions"):
// one actor per node. Every client id has an owner node, chosen by
// rendezvous hashing over the live members; the owner knows which node
// holds the id's session and serialises the id's CONNECTs across the
// group, one claim at a time.
//
// A CONNECT on node B (the session registry asks B's claims actor):
//
//   B -> owner: (claim_atom, id, "B") -> the node that held it ("" none)
//   B -> A:     (handover_atom, id, resume, principal) -> session_snapshot
//               (A's registry: the connection there gets DISCONNECT 0x8E,
//               the session ends and hands its state over, if wanted)
//   B -> owner: (claimed_atom, id, "B", holder)  the claim is done: the
//               next CONNECT of the id may go on (`holder` is B, or A
//               when A kept a session of another principal)
//
// A session that moved waits, before it unsubscribes on A, for a fence
// of the group: every publish a member forwarded to A before the new
// session's subscriptions were in force has been fanned out on A (so it
// reached the old session, which hands it on):
//
//   A session -> A: (fence_atom, true) -> true, once every member has
//                   answered (fence_atom) -> true (or failed to in time)
//
// A session that ends (expiry, a connection without one that closes) is
// released: (release_atom, id, node). When the members change, each node
// tells the new owners of its client ids that it holds them (claim_atom
// with a list of ids), and an owner forgets what members that left held.
// An owner told of an id that another node holds (both sides of a
// partition took a CONNECT of it) keeps the holder it knew and ends the
// other node's session: (kick_atom, id) to that node, whose connection
// gets DISCONNECT 0x8E.
//
// A persistent session's replica (actors/cluster_replicas.hpp) lives on
// its keeper, the owner of its client id among the other members; when the
// session's node leaves, the keeper is the owner, and it answers a claim
// of the id with itself as the holder and the replica as the session:
//
//   session -> its node:  (replica_atom, session_replica)   what changed
//   node -> keeper:       (replica_atom, vector<session_replica>)  whole
//   node -> keeper:       (replica_atom, ids, node)   sessions that ended
//   connection -> node:   (replica_atom, session_replica)   its will
//   node -> keeper:       (replica_atom, will_atom, ids, node) -> true
//                         the node stops: drop its clients' wills
//
// A keeper publishes the wills of a holder that left (through its topic
// tree, which the server gives it with the registry) as they fall due.
//
// Members reach each other's claims actors through their routers
// (actors/cluster_router.hpp), which take these from members only.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/cluster_routes.hpp"
#include "actors/session_directory.hpp"
#include "actors/types.hpp"

namespace castor {

/// How long a claim waits for the owner (which may serialise it behind
/// another), and a handover for the node that held the session. A CONNECT
/// waits for them: a member that hangs (until it is found failed) delays
/// the CONNECTs of the client ids it owns by this much at most.
inline constexpr std::chrono::seconds claim_owner_timeout{5};
inline constexpr std::chrono::seconds handover_timeout{3};
/// How long an owner waits for a claim to be done before it lets the next
/// claim of the id go on.
inline constexpr std::chrono::seconds claim_done_timeout{4};
/// Claims of one id waiting at its owner, at most (the rest fail).
inline constexpr size_t claim_queue_max = 32;
/// A node's fence ends after this long at most (its forwards are answered
/// or time out within cluster_forward_timeout); a group's fence waits for
/// each member this long at most.
inline constexpr std::chrono::seconds node_fence_timeout{6};
inline constexpr std::chrono::seconds group_fence_timeout{7};

/// The owner of `client_id` among `nodes` (node names; rendezvous hashing:
/// the node with the highest hash of node and client id). "" if none.
std::string claim_owner(std::string_view client_id,
                        const std::vector<std::string>& nodes);

/// `sessions` is this node's session directory (the client ids it holds);
/// with `refuse_foreign`, a CONNECT of another principal than a resumable
/// replica's is refused (as `security.foreign_session: refuse` does on
/// one node), else the replica goes and the session starts clean.
caf::actor spawn_cluster_claims(caf::actor_system& sys,
                                cluster_routes_ptr routes,
                                session_directory_ptr sessions,
                                bool refuse_foreign = true);

} // namespace castor
