#pragma once

// Typed topics in a node group (docs/cluster.md, "Typed topics"): the
// topics the API adds or removes on one node are added or removed on every
// member, and a member that joins gets every topic the API added. Each
// node's mapping (protocol/topic_mapping.hpp) thus knows the group's typed
// topics: a publish to one converts to its type on any node, and its
// owner orders its updates (actors/topic_forward.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/cluster_routes.hpp"
#include "actors/cluster_types.hpp"
#include "actors/iface/topic_tree.hpp"
#include "protocol/topic_mapping.hpp"

namespace castor {

/// A topic members take: added with `spec`; removed (its specification)
/// when `spec` is null, and with `forget` its value too (topics/remove).
cluster_topic cluster_topic_of(const std::string& path,
                               const topic_specification* spec,
                               bool forget = false);

/// Every topic the API added here, for a member that joined.
std::vector<cluster_topic> added_topics(const topic_mapping& mapping);

/// A member that joins gets the topics in messages of at most this many.
inline constexpr size_t cluster_topics_chunk = 1000;

/// Sends `ts` to every other member's router, as `self` (nothing outside a
/// group).
template <class Self>
void share_topics(Self* self, const cluster_routes_ptr& routes,
                  std::vector<cluster_topic> ts) {
  if (!routes || ts.empty())
    return;
  for (auto& r : routes->routers())
    self->send(r, cl_topic_atom::value, ts);
}

/// Takes a member's topics (`self` is the router): into `mapping`; a topic
/// added is made and kept through `tree` (as topics/add does), and a
/// removed one forgets its value with `forget` (then it retires after
/// `idle_ms` unused). A topic this node has with another specification
/// keeps it (logged).
void take_topics(caf::event_based_actor* self, const topic_tree_interface& tree,
                 topic_mapping& mapping, std::vector<cluster_topic>& ts,
                 uint32_t idle_ms);

} // namespace castor
