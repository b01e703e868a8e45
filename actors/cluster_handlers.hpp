#pragma once

// Message handlers in a node group (docs/cluster.md, "Request-response
// messaging"): every node's table of handlers (actors/messaging.hpp) holds
// the registrations of every member, so that a request made on any node
// goes straight to a handler's connection wherever it is. Each node sends
// the members all of its own registrations when they have changed, and to
// a member that has joined; a member's list replaces what it sent before,
// and a member that leaves takes its registrations with it. The
// bookkeeping, without the messaging (the router does that,
// actors/cluster_router.cpp).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/node_id.hpp>

#include "actors/cluster_types.hpp"
#include "actors/messaging.hpp"

namespace castor {

/// How often the router looks for changes of this node's registrations
/// and of the members.
inline constexpr std::chrono::milliseconds handler_sync_period{20};

/// A list from a node that is not a member goes after this many calls of
/// members() (5 s at handler_sync_period).
inline constexpr uint32_t max_unknown_periods = 250;

/// Registrations taken from one member, at most.
inline constexpr size_t max_member_handlers = 100000;

class handler_sync {
public:
  /// `table` is this node's (the server's); `node` this CAF node, whose
  /// connections' registrations are this node's own.
  handler_sync(handlers_ptr table, std::string self_node, caf::node_id node);

  /// This node's registrations as a list for the members.
  cluster_handlers local() const;

  /// This node's registrations if they changed since the last call.
  std::optional<cluster_handlers> changed();

  /// The members now (node names and routers): those that left (or
  /// restarted: another router) lose their registrations here; returns the
  /// routers of those that joined since the last call (they get this
  /// node's list).
  std::vector<caf::actor>
  members(const std::vector<std::pair<std::string, caf::actor>>& now);

  /// A member's list, from its router: replaces what it had here (none of
  /// this node's own connections, at most max_member_handlers).
  void take(const cluster_handlers& h, const caf::actor& router);

  /// Registrations of other members held here.
  size_t remote_size() const;

private:
  /// Forgets what `node` sent here (from `router` only, if given: a list
  /// from its next incarnation stays).
  void forget(const std::string& node, const caf::actor& router = nullptr);
  handlers_ptr table_;
  std::string self_;
  caf::node_id node_;
  uint64_t sent_ = ~uint64_t{0};
  std::map<std::string, caf::actor> members_;
  struct member_handlers {
    caf::actor router;
    /// Calls of members() that did not name the node: a list from a node
    /// that never became a member (or left before) goes after a while.
    uint32_t unknown = 0;
    std::vector<std::pair<std::string, caf::actor>> entries;
  };
  std::map<std::string, member_handlers> remote_;
};

} // namespace castor
