// The node agent's part that keeps the route table (docs/cluster.md,
// "Routing"): this node's filters and share groups, sent to the members
// together, and the members' filters taken into the route table.

#include <caf/event_based_actor.hpp>

#include "actors/cluster_agent_detail.hpp"
#include "actors/cluster_router.hpp"
#include "actors/cluster_routes.hpp"
#include "actors/types.hpp"

namespace castor::cluster_agent_detail {

/// This node's filters for the members: all of them, or what changed.
cluster_route_update route_update(agent_actor* self, bool full) {
  auto& st = self->state;
  cluster_route_update u;
  u.node = me(self).node;
  u.incarnation = me(self).incarnation;
  u.router = st.router;
  u.full = full;
  auto& add = full ? st.filters : st.added;
  u.add.assign(add.begin(), add.end());
  if (!full)
    u.remove.assign(st.removed.begin(), st.removed.end());
  if (full) {
    for (auto& [key, n] : st.shares)
      u.shares.push_back(cluster_share{key, n});
  } else {
    for (auto& key : st.shares_changed) {
      auto i = st.shares.find(key);
      u.shares.push_back(
          cluster_share{key, i == st.shares.end() ? 0 : i->second});
    }
  }
  return u;
}

/// A member's filters, into the route table.
void take_routes(agent_actor* self, const cluster_member& from,
                 const caf::actor& agent, const cluster_route_update& u) {
  if (u.node != from.node || u.incarnation != from.incarnation || !u.router)
    return;
  auto& r = *self->state.routes;
  r.set_member(u.node, u.incarnation, u.router);
  r.apply(u.node, u.full, u.add, u.remove, u.shares);
  // A full update comes once per membership, from an agent that has just
  // added this node: it gets this node's retained messages (the router
  // gathers them and sends them as this agent, so that they pass as a
  // member's).
  if (u.full)
    self->send(self->state.router, cl_sync_atom::value, agent);
}

void arm_flush(agent_actor* self) {
  auto& st = self->state;
  if (!st.flush_armed) {
    st.flush_armed = true;
    self->delayed_send(self, route_flush_delay, cl_flush_atom::value);
  }
}

/// The topic tree's news of this node's filters, sent on together.
void local_route(agent_actor* self, const std::string& filter, bool add) {
  auto& st = self->state;
  if (add) {
    if (!st.filters.insert(filter).second)
      return;
    if (st.removed.erase(filter) == 0)
      st.added.insert(filter);
  } else {
    if (st.filters.erase(filter) == 0)
      return;
    if (st.added.erase(filter) == 0)
      st.removed.insert(filter);
  }
  arm_flush(self);
}

/// The topic tree's news of a share group's members here, sent on
/// together with the filters.
void local_share(agent_actor* self, const std::string& key, uint32_t n) {
  auto& st = self->state;
  if (n == 0)
    st.shares.erase(key);
  else
    st.shares[key] = n;
  st.shares_changed.insert(key);
  arm_flush(self);
}

/// Sends a member's agent this node's routes. A request, as the agent
/// answers it (an answer to a plain message would come back as one).
void send_routes(agent_actor* self, const caf::actor& agent,
                 cluster_route_update u) {
  self->request(agent, cluster_forward_timeout, cl_routes_atom::value,
                std::move(u))
      .then([](bool) {}, [](caf::error&) {});
}

/// Answers the tree's announcement of a new route: at once when no member
/// needs to hear of it, else once the members have taken it.
caf::result<bool> route_announced(agent_actor* self, bool add) {
  auto& st = self->state;
  if (!add || !st.flush_armed || st.members.empty())
    return true;
  auto rp = self->make_response_promise();
  st.route_waiting.push_back(rp);
  return rp;
}

void flush_routes(agent_actor* self) {
  auto& st = self->state;
  st.flush_armed = false;
  auto waiting = std::make_shared<std::vector<caf::response_promise>>(
      std::move(st.route_waiting));
  st.route_waiting.clear();
  auto left = std::make_shared<size_t>(1);
  auto done = [waiting, left] {
    if (--*left == 0)
      for (auto& rp : *waiting)
        rp.deliver(true);
  };
  if (!st.added.empty() || !st.removed.empty() || !st.shares_changed.empty()) {
    auto u = route_update(self, false);
    st.added.clear();
    st.removed.clear();
    st.shares_changed.clear();
    // Each member answers once it has the routes (a member that does not
    // answer in time holds the announcements up no longer).
    for (auto& [_, p] : st.members) {
      ++*left;
      self->request(p.agent, cluster_forward_timeout, cl_routes_atom::value, u)
          .then([done](bool) { done(); }, [done](caf::error&) { done(); });
    }
  }
  done();
}

} // namespace castor::cluster_agent_detail
