#pragma once

// The node agent of a node group (docs/cluster.md): one actor per node,
// published on the cluster port through CAF's middleman. It joins the group
// through the seeds, proves the group's secret to every member and checks
// theirs (actors/cluster_types.hpp), connects to every member it learns of
// (full mesh), sends heartbeats, and removes a member that leaves, whose
// connection is lost (a down message, remote_link_unreachable) or that is
// not heard from within the failure timeout. A member that restarts comes
// back with a newer incarnation and replaces its old self.
//
// What it knows is mirrored in a cluster_view that the HTTP side reads
// (GET /api/v1/cluster, /metrics) without a message.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "actors/cluster_routes.hpp"
#include "actors/cluster_types.hpp"

namespace castor {

struct cluster_settings {
  std::string group;
  cluster_member self; ///< node name, advertised host and port, incarnation
  std::vector<std::pair<std::string, uint16_t>> seeds;
  std::string secret;
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds failure_timeout{5000};
  size_t max_members = 16;
  /// Connections to members over TLS (CAF's OpenSSL module, loaded with
  /// the actor system): the cluster port speaks it.
  bool tls = false;
};

/// How a membership changed (castor_cluster_member_changes_total{change}).
enum class member_change : uint8_t {
  joined,   ///< a node joined (or was joined)
  left,     ///< a member said it leaves
  failed,   ///< connection lost or no heartbeat within the failure timeout
  replaced, ///< a member restarted: a newer incarnation took its place
  count_
};
const char* name(member_change c) noexcept;

/// What the agent knows, for readers on other threads.
class cluster_view {
public:
  struct member {
    cluster_member info;
    std::chrono::system_clock::time_point since;
    /// Its figures, as its last heartbeat brought them (none yet, or a
    /// version that does not send them).
    std::optional<cluster_node_stats> stats;
  };

  explicit cluster_view(cluster_settings s) : settings_(std::move(s)) {}

  /// The route table and its counters (set before the agent starts).
  cluster_routes_ptr routes;

  /// This node's figures, which the agent sends the members with each
  /// heartbeat (set before the agent starts; none: nothing is sent).
  std::function<cluster_node_stats()> local_stats;

  const cluster_settings& settings() const noexcept {
    return settings_;
  }

  /// The other members, in node-name order.
  std::vector<member> members() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return members_;
  }

  void set_members(std::vector<member> ms) {
    std::lock_guard<std::mutex> guard{mtx_};
    members_ = std::move(ms);
  }

  void count(member_change c) noexcept {
    changes_[static_cast<size_t>(c)].fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t changes(member_change c) const noexcept {
    return changes_[static_cast<size_t>(c)].load(std::memory_order_relaxed);
  }

  /// Joins refused (wrong secret, another group, a version or name clash).
  void count_refusal() noexcept {
    refused_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t refusals() const noexcept {
    return refused_.load(std::memory_order_relaxed);
  }

private:
  cluster_settings settings_;
  mutable std::mutex mtx_;
  std::vector<member> members_;
  std::array<std::atomic<uint64_t>, static_cast<size_t>(member_change::count_)>
      changes_{};
  std::atomic<uint64_t> refused_{0};
};

using cluster_view_ptr = std::shared_ptr<cluster_view>;

/// (open_atom): the cluster port listens; the agent starts to join the
/// seeds and to beat (before it, a node whose port cannot be opened
/// would join the group for a moment and be counted as failed).
/// (cl_leave_atom) -> bool: the agent tells every member that this node
/// leaves, answers, and ends. It tells the members of this node's filters
/// (the topic tree tells it, through `routes`) and `router`, and writes
/// theirs into `routes` (actors/cluster_routes.hpp).
caf::actor spawn_cluster_agent(caf::actor_system& sys, cluster_view_ptr view,
                               cluster_routes_ptr routes, caf::actor router);

} // namespace castor
