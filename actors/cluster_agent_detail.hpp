#pragma once

// The node agent's state, shared by its files: actors/cluster_agent.cpp
// (membership) and actors/cluster_agent_routes.cpp (the route table).

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/result.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/cluster_agent.hpp"
#include "actors/cluster_types.hpp"

namespace castor::cluster_agent_detail {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// Challenges answered and not yet proved, at most; older ones go first.
constexpr size_t max_pending = 64;
/// How long a challenge waits for its proof.
constexpr auto pending_lifetime = std::chrono::seconds{10};
/// Retries of an unreachable node start at this interval and double.
constexpr milliseconds first_retry{500};
constexpr milliseconds max_retry{30000};
/// A member lost (not one that left) is retried this long.
constexpr auto lost_retry_period = std::chrono::hours{1};
/// A member learnt from another is tried this long.
constexpr auto learnt_retry_period = std::chrono::minutes{1};
/// How long a member that leaves waits for the others' acknowledgements.
constexpr milliseconds leave_wait{1000};

struct peer {
  cluster_member info;
  caf::actor agent;
  clock::time_point last_heard;
  std::chrono::system_clock::time_point since;
  std::optional<cluster_node_stats> stats;
};

struct challenge_state {
  cluster_hello hello;
  caf::actor_addr from;
  uint32_t version = 0;
  clock::time_point at;
};

/// A cluster endpoint this node tries to join through until a member
/// answers from it.
struct target {
  std::string host;
  uint16_t port = 0;
  bool seed = false;
  bool is_self = false;
  /// The node that answered from here last; while it is a member, the
  /// target needs no retry.
  std::string node;
  clock::time_point next_try;
  milliseconds backoff = first_retry;
  /// Zero for seeds (tried for ever).
  clock::time_point until;
  size_t failures = 0;
};

/// Route updates from an agent that is not a member yet (they may overtake
/// the welcome), at most.
constexpr size_t max_early_routes = 256;
/// Changes of this node's filters are sent to the members together, this
/// long after the first of them.
constexpr milliseconds route_flush_delay{5};

struct agent_state {
  cluster_view_ptr view;
  cluster_routes_ptr routes;
  caf::actor router;
  /// This node's filters, and what changed since the members were told.
  std::set<std::string> filters;
  std::set<std::string> added;
  std::set<std::string> removed;
  /// Its share groups ("group\0filter") with their members here, and
  /// those whose count changed since.
  std::map<std::string, uint32_t> shares;
  std::set<std::string> shares_changed;
  bool flush_armed = false;
  /// The tree's announcements of a new route, answered once the members
  /// have taken the flush that carries it (a SUBACK waits for them).
  std::vector<caf::response_promise> route_waiting;
  std::vector<std::pair<caf::actor_addr, cluster_route_update>> early;
  std::map<std::string, peer> members;
  std::unordered_map<std::string, challenge_state> pending;
  std::map<std::string, target> targets; // by "host:port"
  std::set<std::string> connecting;      // "host:port" being tried
  bool leaving = false;
  bool started = false;
  static inline const char* name = "cluster-agent";
};

using agent_actor = caf::stateful_actor<agent_state>;

inline std::string endpoint(const std::string& host, uint16_t port) {
  return host + ":" + std::to_string(port);
}

inline std::string endpoint(const cluster_member& m) {
  return endpoint(m.host, m.port);
}

inline const cluster_settings& settings(agent_actor* self) {
  return self->state.view->settings();
}

inline const cluster_member& me(agent_actor* self) {
  return settings(self).self;
}

inline milliseconds request_timeout(agent_actor* self) {
  return std::max(milliseconds{2000}, settings(self).failure_timeout);
}
// -- the route table (actors/cluster_agent_routes.cpp) ------------------------

/// This node's filters for the members: all of them, or what changed.
cluster_route_update route_update(agent_actor* self, bool full);
/// A member's filters, into the route table.
void take_routes(agent_actor* self, const cluster_member& from,
                 const caf::actor& agent, const cluster_route_update& u);
/// The topic tree's news of this node's filters, sent on together.
void local_route(agent_actor* self, const std::string& filter, bool add);
/// The topic tree's news of a share group's members here.
void local_share(agent_actor* self, const std::string& key, uint32_t n);
/// Sends a member's agent this node's routes.
void send_routes(agent_actor* self, const caf::actor& agent,
                 cluster_route_update u);
/// Answers the tree's announcement of a new route.
caf::result<bool> route_announced(agent_actor* self, bool add);
/// Sends the members what changed of this node's filters.
void flush_routes(agent_actor* self);

} // namespace castor::cluster_agent_detail
