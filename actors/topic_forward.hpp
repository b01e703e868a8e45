#pragma once

// A topic's publishes on their way to the other nodes of a node group
// (docs/cluster.md, "Routing"): once per batch and node whose filters
// match the topic's name (every member for a retained message), never
// once per remote subscriber. Part of the topic actor (actors/topic.cpp).

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include <caf/response_promise.hpp>

#include "actors/cluster_claims.hpp"
#include "actors/cluster_router.hpp"
#include "actors/topic.hpp"

namespace castor {

/// The answer to a publisher's batch, given once the local fan-out and
/// every node it was forwarded to have taken it (or failed to answer in
/// time: a node that has gone does not hold up the publisher).
struct forward_acks {
  std::function<void()> finish;
  size_t left = 0;
  void done() {
    if (--left == 0)
      finish();
  }
};

/// What answers `rp` with true (nothing if null).
inline std::function<void()> answer_true(caf::response_promise* rp) {
  if (!rp)
    return {};
  return [rp = *rp]() mutable { rp.deliver(true); };
}

/// Batches a topic has forwarded to one node and not had answered, at
/// most: past it, its QoS 0 batches for that node are dropped (and
/// counted), so that a node that falls behind never makes a queue grow
/// without bound on either side. QoS 1 and 2 batches still go: their
/// publishers wait for the answers.
inline constexpr uint32_t max_forwards_in_flight = 64;

/// A node's answer to a forwarded batch (or its error, or none in time).
template <class Self>
void forward_answered(Self* self, const caf::actor& node,
                      const std::shared_ptr<forward_acks>& acks, bool failed) {
  auto& st = self->state;
  auto i = st.forwards_in_flight.find(node);
  if (i != st.forwards_in_flight.end() && --i->second == 0)
    st.forwards_in_flight.erase(i);
  if (failed)
    st.routes->forwards_failed.fetch_add(1, std::memory_order_relaxed);
  if (acks)
    acks->done();
}

/// A topic's part in the fences (cluster_routes::enter_forward): held
/// from before it reads the route table until the nodes have answered the
/// batches it forwarded.
class forward_entry {
public:
  /// Takes over `ticket`, entered in `routes`.
  forward_entry(cluster_routes_ptr routes, uint64_t ticket)
      : routes_(std::move(routes)), ticket_(ticket) {}
  forward_entry(const forward_entry&) = delete;
  forward_entry& operator=(const forward_entry&) = delete;
  ~forward_entry() {
    routes_->leave_forward(ticket_);
  }

private:
  cluster_routes_ptr routes_;
  uint64_t ticket_;
};

/// What forward_publishes did: what answers the publisher (null when the
/// batch went nowhere or its answer need not wait), and which messages
/// the share groups here get (null: all of them).
struct forward_result {
  std::shared_ptr<forward_acks> acks;
  share_filter_ptr shares;
};

/// One node a batch goes to: all of it (`full`: the node has plain
/// subscribers, or the batch a retained message), or only what its share
/// groups were picked for; positions in the whole batch.
struct forward_target {
  caf::actor router;
  bool full = false;
  std::vector<share_pick> picks;
};

inline forward_target& target_of(std::vector<forward_target>& ts,
                                 const caf::actor& router) {
  for (auto& t : ts)
    if (t.router == router)
      return t;
  ts.push_back(forward_target{router, false, {}});
  return ts.back();
}

/// Picks, for every share group with members on other nodes, the node of
/// each message: in turn over all of the group's members, this node's
/// (`local`) first. Fills in the targets' picks; returns this node's.
template <class Self>
std::shared_ptr<share_filter>
pick_shares(Self* self, size_t n, std::vector<forward_target>& targets) {
  auto& st = self->state;
  if (st.plan.shares.empty())
    return nullptr;
  auto mine = std::make_shared<share_filter>();
  for (auto& sr : st.plan.shares) {
    uint64_t local = 0;
    if (auto g = st.groups.find(sr.key); g != st.groups.end())
      local = g->second.members.size();
    uint64_t total = local;
    for (auto& [_, members] : sr.nodes)
      total += members;
    auto& turn = st.share_turns[sr.key];
    share_pick here{sr.key, {}};
    for (uint32_t i = 0; i < n; ++i) {
      auto pos = turn++ % total;
      if (pos < local) {
        here.indices.push_back(i);
        continue;
      }
      pos -= local;
      for (auto& [router, members] : sr.nodes) {
        if (pos < members) {
          auto& picks = target_of(targets, router).picks;
          if (picks.empty() || picks.back().key != sr.key)
            picks.push_back(share_pick{sr.key, {}});
          picks.back().indices.push_back(i);
          break;
        }
        pos -= members;
      }
    }
    mine->picks.push_back(std::move(here));
  }
  return mine;
}

/// The batch for target `t`: all of `msgs`, or the messages its share
/// groups were picked for (positions renumbered).
inline publish_batch batch_for(forward_target& t,
                               const std::vector<mqtt::message_ptr>& msgs) {
  publish_batch b;
  if (t.full) {
    b.msgs = msgs;
    b.picks = std::move(t.picks);
    return b;
  }
  std::vector<uint32_t> all;
  for (auto& p : t.picks)
    all.insert(all.end(), p.indices.begin(), p.indices.end());
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  b.msgs.reserve(all.size());
  for (auto i : all)
    b.msgs.push_back(msgs[i]);
  for (auto& p : t.picks)
    for (auto& i : p.indices)
      i = static_cast<uint32_t>(std::lower_bound(all.begin(), all.end(), i)
                                - all.begin());
  b.picks = std::move(t.picks);
  b.shares_only = true;
  return b;
}

/// Forwards a local batch of the topic `self` to the nodes that want it:
/// the whole batch to those with plain subscribers (every member for a
/// retained message, and for a typed topic's, `everywhere`), and to the
/// nodes a share group's messages were picked for, those messages. For a
/// batch with QoS 1 or 2 messages and `finish`, the result's `acks` call
/// `finish` once the nodes have answered: the caller calls done() once it
/// has fanned the batch out here. `events`: the batch holds the events a
/// time series' owner made (cl_events_atom), which the members keep as
/// made.
template <class Self>
forward_result forward_publishes(Self* self,
                                 const std::vector<mqtt::message_ptr>& msgs,
                                 std::function<void()> finish,
                                 bool everywhere = false, bool events = false) {
  auto& st = self->state;
  auto& routes = *st.routes;
  // In a fence's count from before the table is read (a batch sent as of
  // an older table counts in the fences begun after that read).
  auto ticket = routes.enter_forward();
  auto v = routes.version();
  if (v != st.route_version) {
    st.plan = routes.plan(st.name);
    st.route_version = v;
    for (auto i = st.share_turns.begin(); i != st.share_turns.end();)
      if (std::none_of(st.plan.shares.begin(), st.plan.shares.end(),
                       [&](auto& sr) { return sr.key == i->first; }))
        i = st.share_turns.erase(i);
      else
        ++i;
  }
  bool retained = everywhere
                  || std::any_of(msgs.begin(), msgs.end(),
                                 [](auto& m) { return m->retain; });
  std::vector<caf::actor> every;
  if (retained)
    every = routes.routers();
  std::vector<forward_target> targets;
  for (auto& r : retained ? every : st.plan.plain)
    target_of(targets, r).full = true;
  forward_result res;
  res.shares = pick_shares(self, msgs.size(), targets);
  if (targets.empty()) {
    routes.leave_forward(ticket);
    return res;
  }
  auto entered = std::make_shared<forward_entry>(st.routes, ticket);
  // The publisher waits for the nodes only for QoS 1 and 2 (a QoS 0 batch
  // may ask for an answer too: the connection's flow control, which the
  // fan-out here answers).
  bool wait = finish && std::any_of(msgs.begin(), msgs.end(), [](auto& m) {
                return m->qos > 0;
              });
  std::shared_ptr<forward_acks> acks;
  if (wait) {
    acks = std::make_shared<forward_acks>();
    acks->finish = std::move(finish);
    acks->left = 1; // the fan-out here
  }
  size_t batches = 0;
  size_t messages = 0;
  for (auto& t : targets) {
    auto b = batch_for(t, msgs);
    auto& n = st.forwards_in_flight[t.router];
    if (!acks && n >= max_forwards_in_flight) {
      routes.forwards_dropped.fetch_add(b.msgs.size(),
                                        std::memory_order_relaxed);
      continue;
    }
    ++n;
    ++batches;
    messages += b.msgs.size();
    if (acks)
      ++acks->left;
    // Every batch is answered (QoS 0 ones too), once the node's topic has
    // fanned it out: that is what bounds the batches in flight.
    // `entered` goes with the handlers: the fences wait for the answers
    // (or the handlers' end, should this actor end first).
    auto router = t.router;
    auto sent = events ? self->request(router, cluster_forward_timeout,
                                       cl_events_atom::value, std::move(b))
                       : self->request(router, cluster_forward_timeout,
                                       publish_atom::value, std::move(b));
    sent.then([self, router, acks,
               entered](bool) { forward_answered(self, router, acks, false); },
              [self, router, acks, entered](caf::error&) {
                forward_answered(self, router, acks, true);
              });
  }
  routes.forwarded_batches.fetch_add(batches, std::memory_order_relaxed);
  routes.forwarded_messages.fetch_add(messages, std::memory_order_relaxed);
  if (batches > 0)
    res.acks = std::move(acks);
  return res;
}

// -- typed topics: one owner orders their updates ----------------------------

/// Whether the topic is a typed topic whose updates its owner orders in a
/// node group: an explicit topic (a time series' owner makes its events,
/// which every member keeps as made).
inline bool owner_ordered(const topic_state& st) {
  return st.routes && st.spec;
}

/// The router of the typed topic's owner (the member with the highest
/// rendezvous hash of node name and topic name), null when this node is
/// the owner. Looked up again when the members change.
template <class Self>
caf::actor owner_router(Self* self) {
  auto& st = self->state;
  auto v = st.routes->version();
  if (v == st.owner_version)
    return st.owner;
  st.owner_version = v;
  auto members = st.routes->member_routers();
  std::vector<std::string> names{st.routes->self_node};
  for (auto& m : members)
    names.push_back(m.first);
  auto owner = claim_owner(st.name, names);
  st.owner = nullptr;
  for (auto& [node, router] : members)
    if (node == owner)
      st.owner = router;
  return st.owner;
}

/// Hands a local batch of a typed topic to its owner's router `owner`,
/// which fans it out there and to every member (this one included);
/// `finish` (if any) is called once it has. Should the owner not answer
/// (it died, or hangs), `fallback` takes the batch here as the owner
/// would, so that nothing a publisher is told was taken is lost. A QoS 0
/// batch without `finish` is dropped (and counted) while the owner has
/// max_forwards_in_flight batches of the topic unanswered.
template <class Self, class Fallback>
void relay_to_owner(Self* self, const caf::actor& owner,
                    std::vector<mqtt::message_ptr>&& msgs,
                    std::function<void()> finish, Fallback fallback) {
  auto& st = self->state;
  auto& routes = *st.routes;
  auto& n = st.forwards_in_flight[owner];
  if (!finish && n >= max_forwards_in_flight) {
    routes.forwards_dropped.fetch_add(msgs.size(), std::memory_order_relaxed);
    return;
  }
  ++n;
  routes.forwarded_batches.fetch_add(1, std::memory_order_relaxed);
  routes.forwarded_messages.fetch_add(msgs.size(), std::memory_order_relaxed);
  auto entered
      = std::make_shared<forward_entry>(st.routes, routes.enter_forward());
  publish_batch b;
  b.msgs = msgs;
  self->request(owner, cluster_forward_timeout, cl_owner_atom::value,
                std::move(b))
      .then(
          [self, owner, finish, entered](bool) {
            forward_answered(self, owner, nullptr, false);
            if (finish)
              finish();
          },
          [self, owner, msgs = std::move(msgs), finish, fallback,
           entered](caf::error&) mutable {
            forward_answered(self, owner, nullptr, true);
            fallback(std::move(msgs), std::move(finish));
          });
}

} // namespace castor
