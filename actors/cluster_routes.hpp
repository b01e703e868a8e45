#pragma once

// The route table of a node group (docs/cluster.md, "Routing"): which other
// nodes have subscribers for which filters, and where their routers are.
// One object per node, shared by the node agent (which writes it as the
// members tell it their filters), the topic tree (which tells the agent of
// this node's filters) and the topic actors (which read it to forward
// publishes).
//
// A topic actor reads the table only when its version has changed since
// the last look (one atomic load per publish batch otherwise); the agent
// changes it under a mutex.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/node_id.hpp>

#include "actors/cluster_types.hpp"
#include "protocol/topic_index.hpp"

namespace castor {

/// A share group with members on other nodes: "group\0filter", and the
/// routers of those nodes with their members there.
struct share_route {
  std::string key;
  std::vector<std::pair<caf::actor, uint32_t>> nodes;
};

/// Where a topic's publishes go: the nodes with plain subscribers of it,
/// and the share groups that match it on other nodes.
struct route_plan {
  std::vector<caf::actor> plain;
  std::vector<share_route> shares;
};

class cluster_routes {
public:
  /// Where the publishes of `topic` go.
  route_plan plan(std::string_view topic) const;

  /// Every member's router (retained messages go everywhere).
  std::vector<caf::actor> routers() const;
  /// Every member's node name and router.
  std::vector<std::pair<std::string, caf::actor>> member_routers() const;

  /// This node's name in the group (set before the agent starts).
  std::string self_node;
  /// This node's incarnation (its start time, ms), set before the agent
  /// starts.
  std::atomic<uint64_t> self_incarnation{0};

  /// The router of the group's lock keeper (actors/locks.hpp): the member
  /// that has run longest (the lowest incarnation, then the lowest node
  /// name), so that a node that joins never takes the locks over. Null
  /// when this node keeps them.
  caf::actor lock_keeper() const;

  /// Bumped by every change that could change a plan.
  uint64_t version() const noexcept {
    return version_.load(std::memory_order_acquire);
  }

  // -- written by the node agent -------------------------------------------

  /// A member's router (a new one replaces its routes: a restart).
  void set_member(const std::string& node, uint64_t incarnation,
                  caf::actor router);
  /// Its filters and share groups ("group\0filter" -> members there, 0
  /// for none): `full` replaces what it had.
  void apply(const std::string& node, bool full,
             const std::vector<std::string>& add,
             const std::vector<std::string>& remove,
             const std::vector<cluster_share>& shares = {});
  /// A member has gone: its routes with it.
  void drop_member(const std::string& node);
  /// Whether `n` is the CAF node of a member, or of one that was a member
  /// (the last 1,024 of those): publishes are taken from those only. A
  /// member removed while it hung still gets what it was sent before.
  bool trusted_node(const caf::node_id& n) const;

  /// The number of (node, filter) and (node, share group) routes held
  /// (metrics).
  size_t size() const;

  // -- this node's filters (the topic tree tells the agent) ------------------

  void set_agent(caf::actor agent);
  caf::actor agent() const;

  /// Publishes sent to other nodes and taken from them (batches and
  /// messages), and forwards not acknowledged (an error or no answer in
  /// time); castor_cluster_* metrics.
  std::atomic<uint64_t> forwarded_batches{0};
  std::atomic<uint64_t> forwarded_messages{0};
  std::atomic<uint64_t> received_batches{0};
  std::atomic<uint64_t> received_messages{0};
  std::atomic<uint64_t> forwards_failed{0};
  /// QoS 0 messages not forwarded to a node that had too many batches of
  /// the topic unanswered.
  std::atomic<uint64_t> forwards_dropped{0};
  /// Messages the agent or the router did not expect (a stray answer, an
  /// error, another version's message): dropped, so that one never stops
  /// the actor that a node's membership or routing stands on.
  std::atomic<uint64_t> unexpected_messages{0};
  // -- fences (actors/cluster_claims.hpp) ------------------------------------
  //
  // A fence ends once every batch this node's topics forwarded before it
  // began has been answered, that is fanned out on the node it went to.
  // A topic enters before it reads the route table and leaves once the
  // nodes have answered what it sent (or at once if it sent nothing);
  // fences take turns (one at a time per node), over two counters.

  /// Returns the ticket that leave_forward() takes.
  uint64_t enter_forward() noexcept {
    auto e = fence_epoch_.load();
    in_flight_[e & 1].fetch_add(1);
    return e;
  }
  void leave_forward(uint64_t ticket) noexcept {
    in_flight_[ticket & 1].fetch_sub(1);
  }
  /// Begins a fence: forwards entered from now on count apart. Returns
  /// what fence_passed() takes.
  uint64_t begin_fence() noexcept {
    return fence_epoch_.fetch_add(1);
  }
  /// Whether every forward entered before the fence began has left.
  bool fence_passed(uint64_t fence) const noexcept {
    return in_flight_[fence & 1].load() == 0;
  }

  /// Sessions that moved here from another node (a CONNECT there, then
  /// here), and claims of client ids that went without the owner's or the
  /// previous holder's answer (actors/cluster_claims.hpp).
  std::atomic<uint64_t> sessions_moved{0};
  std::atomic<uint64_t> claims_failed{0};
  /// Sessions resumed here from the replica of a member that left, and the
  /// replicas of other members' sessions kept here
  /// (actors/cluster_replicas.hpp).
  std::atomic<uint64_t> sessions_resumed{0};
  std::atomic<uint64_t> session_replicas{0};
  /// Wills of clients of a member that died or stopped, published here.
  std::atomic<uint64_t> wills_published{0};

private:
  struct member {
    uint64_t incarnation = 0;
    caf::actor router;
    std::set<std::string> filters;
    std::map<std::string, uint32_t> shares; ///< "group\0filter" -> members
  };
  /// An entry of the share index.
  struct share_entry {
    std::string node;
    std::string key;
    uint32_t members = 0;
  };
  void forget_routes(const std::string& node, member& m);
  mutable std::mutex mtx_;
  std::map<std::string, member> members_;
  /// The nodes of members, oldest first.
  std::vector<caf::node_id> trusted_;
  /// filter -> node names (the value is unused).
  mutable mqtt::filter_index<char, std::string> index_;
  /// subject -> share groups, keyed by "node\0group\0filter".
  mutable mqtt::filter_index<share_entry, std::string> share_index_;
  size_t routes_ = 0;
  caf::actor agent_;
  std::atomic<uint64_t> version_{1};
  std::atomic<uint64_t> fence_epoch_{0};
  std::array<std::atomic<int64_t>, 2> in_flight_{};
};

using cluster_routes_ptr = std::shared_ptr<cluster_routes>;

} // namespace castor
