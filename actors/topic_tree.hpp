#pragma once

// The topic tree: one actor that knows every topic actor (by name) and every
// wildcard subscription (by filter), so a topic created after a wildcard
// subscription still reaches its subscribers. Connections ask it once per
// topic name and then talk to the topic actor directly. What it handles:
// topic_tree_interface (actors/iface/topic_tree.hpp).

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/io/broker.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/cluster_routes.hpp"
#include "actors/cluster_types.hpp"
#include "actors/iface/topic_tree.hpp"
#include "actors/session_directory.hpp"
#include "actors/retained_budget.hpp"
#include "actors/store_writer.hpp"
#include "actors/missing_topics.hpp"
#include "actors/types.hpp"
#include "protocol/topic_index.hpp"
#include "protocol/topic_mapping.hpp"

namespace castor {

struct topic_tree_state {
  mqtt::name_index<topic_interface> topics;
  /// Wildcard subscriptions; key: the session's actor address (node and
  /// id: unique in a node group, where actor ids are not); one entry per
  /// share group ("" = not shared).
  mqtt::filter_index<std::vector<topic_subscription>, caf::actor_addr>
      wildcards;
  /// topics/notify: who is told of topics gaining and losing values.
  std::vector<topic_watch> watches;
  /// For every path above a topic with a value: how many topics with a
  /// value are below it (topics/notify's `branches`).
  std::map<std::string, uint32_t, std::less<>> valued_below;
  uint64_t created = 0;
  uint64_t collected = 0; ///< topics retired when idle
  /// Topics are retired after this long unused (0 = never).
  uint32_t topic_idle_ms = 0;
  /// Names whose topic is deciding whether to retire, with what waits for
  /// the answer (lookups, publishes and subscriptions to that name).
  std::unordered_map<std::string, std::vector<std::function<void()>>> retiring;
  /// Spawn topics on the I/O thread (as brokers without sockets), with the
  /// timer wheel for their timers.
  bool topics_on_io_thread = false;
  caf::actor timers;
  /// The payload mapping, handed to every topic (may be null).
  mapping_ptr mapping;
  /// The sessions, handed to every topic for its removal policy's `no
  /// session has` (may be null: the condition never holds).
  std::shared_ptr<const session_directory> sessions;
  /// Missing-topic handlers (may be null): told of subscriptions that
  /// select no topic.
  missing_ptr missing;
  /// In a node group, the route table (else null), handed to every topic;
  /// this node's plain subscriptions by subject: (session, filter); and
  /// its share groups ("group\0filter") with their member sessions.
  cluster_routes_ptr routes;
  /// The store (null: nothing is kept), handed to every topic.
  store_link_ptr store;
  /// The bound on retained messages (null: none), handed to every topic.
  retained_budget_ptr retained;
  std::unordered_map<std::string,
                     std::set<std::pair<caf::actor_addr, std::string>>>
      local_routes;
  std::unordered_map<std::string, std::set<caf::actor_addr>> local_shares;
  /// Subjects with a new route the members have not all taken yet, and
  /// the subscriptions to them that wait for it.
  struct route_wait {
    size_t acks = 0; ///< announcements not yet answered
    std::vector<std::function<void()>> then;
  };
  std::unordered_map<std::string, route_wait> route_waits;

  static inline const char* name = "topic_tree";
};

using topic_tree_actor = caf::stateful_actor<topic_tree_state>;

/// The tree and its topics on the I/O thread (`actor_placement`).
using topic_tree_broker_type = caf::io::stateful_broker<topic_tree_state>;

/// `mapping` (may be null) goes to every topic (actors/topic.hpp).
/// `missing` (may be null): the missing-topic handlers.
caf::behavior topic_tree(topic_tree_actor* self, mapping_ptr mapping,
                         missing_ptr missing);
caf::behavior topic_tree_broker(topic_tree_broker_type* self, caf::actor timers,
                                mapping_ptr mapping,
                                missing_ptr missing);

} // namespace castor
