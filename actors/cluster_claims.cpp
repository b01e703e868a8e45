#include "actors/cluster_claims.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/census.hpp"
#include "actors/cluster_guard.hpp"
#include "actors/cluster_replicas.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

/// How often the members are looked at (a change moves client ids to new
/// owners, and replicas to new keepers): a list of a few names compared.
constexpr std::chrono::milliseconds member_check{50};
/// Every this many member checks, the replicas kept for other members are
/// looked at (expiries, wills due): once a second.
constexpr uint32_t replica_ticks = 20;
/// Client ids per message when a node tells a new owner what it holds.
constexpr size_t claim_chunk = 1000;

/// FNV-1a over `a`, a zero byte and `b`, then a 64-bit finaliser: the same
/// on every node and every build (std::hash is neither).
uint64_t rendezvous_hash(std::string_view a, std::string_view b) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
  };
  mix(a);
  mix(std::string_view{"\xff", 1}); // no node name holds it
  mix(b);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/// A client id as its owner knows it.
struct claim_record {
  std::string holder; ///< the node that holds its session ("" none)
  bool busy = false;  ///< a claim is under way
  std::string claimer; ///< whose claim it is
  uint64_t token = 0; ///< tells that claim's timeout from a later one's
  /// Claims waiting for it: the node, and where the previous holder goes.
  std::deque<std::pair<std::string, std::function<void(std::string)>>> waiting;
};

struct claims_state {
  cluster_routes_ptr routes;
  session_directory_ptr sessions;
  caf::actor registry; ///< this node's session registry
  caf::actor tree;     ///< this node's topic tree (for wills)
  /// The ids this node owns.
  std::unordered_map<std::string, claim_record> owned;
  /// The nodes of the group (this one included), sorted, as last seen.
  std::vector<std::string> nodes;
  /// Fences of this node, one at a time: the one under way (`now`, begun
  /// at `fence`) and those that wait for it to end (`next`).
  struct fences {
    bool running = false;
    uint64_t fence = 0;
    caf::actor_clock::time_point deadline;
    std::vector<caf::response_promise> now;
    std::vector<caf::response_promise> next;
  } fences;
  /// Replicas of this node's persistent sessions, and of other members'
  /// (actors/cluster_replicas.hpp).
  session_replicas replicas;
  bool flush_due = false; ///< a flush of the replicas is scheduled
  uint64_t ticks = 0;     ///< member checks so far
  /// A CONNECT of another principal than a replica's is refused (else the
  /// replica goes and the session starts clean).
  bool refuse_foreign = true;
  static inline const char* name = "cluster_claims";
};

using claims_actor = caf::stateful_actor<claims_state>;

std::vector<std::string> current_nodes(const claims_state& st) {
  std::vector<std::string> out{st.routes->self_node};
  for (auto& [node, router] : st.routes->member_routers())
    out.push_back(node);
  std::sort(out.begin(), out.end());
  return out;
}

caf::actor router_of(const claims_state& st, const std::string& node) {
  for (auto& [name, router] : st.routes->member_routers())
    if (name == node)
      return router;
  return nullptr;
}

void grant(claims_actor* self, const std::string& id, claim_record& r,
           std::string node, const std::function<void(std::string)>& answer);

/// The castor_cluster_session_replicas gauge, after a change.
void count_kept(claims_state& st) {
  st.routes->session_replicas.store(st.replicas.kept(),
                                    std::memory_order_relaxed);
}

/// A lookup of the members' routers as they are now.
session_replicas::router_fn router_lookup(const claims_state& st) {
  return [members = st.routes->member_routers()](const std::string& node) {
    for (auto& [name, router] : members)
      if (name == node)
        return router;
    return caf::actor{};
  };
}

/// Sends `rs` to `node`'s claims actor (through its router), in chunks.
void send_replicas(claims_actor* self, const std::string& node,
                   std::vector<session_replica>& rs) {
  auto router = router_of(self->state, node);
  if (!router)
    return;
  for (size_t i = 0; i < rs.size(); i += replica_chunk) {
    auto end = std::min(rs.size(), i + replica_chunk);
    std::vector<session_replica> part(
        std::make_move_iterator(rs.begin() + i),
        std::make_move_iterator(rs.begin() + end));
    self->send(router, replica_atom::value, std::move(part));
  }
}

/// Has `node`, the keeper of the replicas of `ids`, drop their wills
/// (a request: `done` runs once it has, or did not answer within a second,
/// or is no member).
template <class F>
void drop_wills_at(claims_actor* self, const std::string& node,
                   std::vector<std::string> ids, F done) {
  auto& st = self->state;
  auto router = router_of(st, node);
  if (!router) {
    done();
    return;
  }
  self->request(router, std::chrono::seconds{1}, replica_atom::value,
                will_atom::value, std::move(ids), st.routes->self_node)
      .then([done](bool) mutable { done(); },
            [done](caf::error&) mutable { done(); });
}

/// Sends this node's sessions' replicas where they go: those that changed,
/// or with `moved` every one whose keeper changed.
void flush_replicas(claims_actor* self, bool moved) {
  auto& st = self->state;
  auto out = st.replicas.flush(st.routes->self_node, st.nodes, moved);
  for (auto& [node, rs] : out.put)
    send_replicas(self, node, rs);
  for (auto& [node, ids] : out.drop)
    if (auto router = router_of(st, node))
      self->send(router, replica_atom::value, std::move(ids),
                 st.routes->self_node);
  for (auto& [node, ids] : out.drop_wills)
    drop_wills_at(self, node, std::move(ids), [] {});
}

/// Publishes the wills of sessions whose node left, as their time comes
/// (actors/cluster_replicas.hpp): from this node, as their own node would.
void publish_due_wills(claims_actor* self) {
  auto& st = self->state;
  for (auto& [id, will] : st.replicas.due_wills()) {
    CASTOR_LOG(info, "cluster",
               "client id '" << id << "': publishing its will on " << will.topic
                             << " (its node left the group)");
    st.routes->wills_published.fetch_add(1, std::memory_order_relaxed);
    if (st.tree)
      self->send(st.tree, publish_atom::value, make_will_message(will, id));
  }
}

/// Has the flush of this node's replicas scheduled, if one is due.
void schedule_flush(claims_actor* self) {
  auto& st = self->state;
  if (st.replicas.dirty() && !st.flush_due) {
    st.flush_due = true;
    self->delayed_send(self, replica_flush, replica_atom::value);
  }
}

/// This node stops: every keeper of its clients' wills drops them; true
/// once they all have (or did not answer within a second).
caf::result<bool> withdraw_wills(claims_actor* self) {
  auto& st = self->state;
  auto out = st.replicas.withdraw_wills();
  if (out.empty())
    return true;
  auto rp = self->make_response_promise<bool>();
  auto left = std::make_shared<size_t>(out.size());
  auto one_done = [rp, left]() mutable {
    if (--*left == 0)
      rp.deliver(true);
  };
  for (auto& [node, ids] : out)
    drop_wills_at(self, node, std::move(ids), one_done);
  return rp;
}

/// The replicas kept for other members: expired ones go, those of holders
/// that left go to their client id's owner, and wills that are due go out.
void tick_replicas(claims_actor* self) {
  auto& st = self->state;
  auto owner
      = [&st](const std::string& id) { return claim_owner(id, st.nodes); };
  auto out = st.replicas.tick(st.routes->self_node, owner, router_lookup(st),
                              session_replicas::clock::now());
  for (auto& [node, rs] : out)
    send_replicas(self, node, rs);
  count_kept(st);
  publish_due_wills(self);
}

/// The claim under way of `id` is over: the next waiting one goes on.
void next_claim(claims_actor* self, const std::string& id) {
  auto& owned = self->state.owned;
  auto i = owned.find(id);
  if (i == owned.end())
    return;
  auto& r = i->second;
  r.busy = false;
  if (!r.waiting.empty()) {
    auto [node, answer] = std::move(r.waiting.front());
    r.waiting.pop_front();
    grant(self, id, r, std::move(node), answer);
  } else if (r.holder.empty()) {
    owned.erase(i);
  }
}

/// `node` claims `id` now: it learns the previous holder and becomes the
/// holder; the next claim waits until it says it is done (or a timeout).
void grant(claims_actor* self, const std::string& id, claim_record& r,
           std::string node, const std::function<void(std::string)>& answer) {
  r.busy = true;
  r.claimer = node;
  auto token = ++r.token;
  auto previous = std::exchange(r.holder, std::move(node));
  // No node holds it, but this one keeps the replica of a session whose
  // node has left: the claimer takes it from here.
  auto& st = self->state;
  if (previous.empty() && st.replicas.resumable(id, router_lookup(st)))
    previous = st.routes->self_node;
  answer(std::move(previous));
  self->delayed_send(self, claim_done_timeout, claimed_atom::value, id, token);
}

/// At the owner: `node` claims `id`.
void claim_here(claims_actor* self, const std::string& id, std::string node,
                std::function<void(std::string)> answer) {
  auto& r = self->state.owned[id];
  if (!r.busy) {
    grant(self, id, r, std::move(node), answer);
    return;
  }
  if (r.waiting.size() >= claim_queue_max) {
    CASTOR_LOG(warning, "cluster",
               "claims of client id '" << id << "' queue up: one refused");
    answer(node); // no handover: the claimer starts on its own
    return;
  }
  r.waiting.emplace_back(std::move(node), std::move(answer));
}

/// At the owner: the claim of `id` by `claimer` is done, `holder` holds
/// it.
void claim_done(claims_actor* self, const std::string& id,
                const std::string& claimer, const std::string& holder) {
  auto i = self->state.owned.find(id);
  if (i == self->state.owned.end() || !i->second.busy
      || i->second.claimer != claimer)
    return; // timed out, or a refused claim's
  i->second.holder = holder;
  next_claim(self, id);
}

/// At the owner: `node` no longer holds `id`.
void release_here(claims_actor* self, const std::string& id,
                  const std::string& node) {
  auto i = self->state.owned.find(id);
  if (i == self->state.owned.end() || i->second.holder != node)
    return;
  if (i->second.busy)
    return; // a claim under way takes it over anyway
  self->state.owned.erase(i);
}

/// At the owner: `node` holds `ids` (told after the members changed).
void hold_here(claims_actor* self, const std::vector<std::string>& ids,
               const std::string& node) {
  for (auto& id : ids) {
    auto& r = self->state.owned[id];
    if (r.holder.empty() || r.busy) {
      if (!r.busy)
        r.holder = node;
      continue;
    }
    if (r.holder == node)
      continue;
    // Two nodes took a CONNECT of the id while they could not reach each
    // other (a partition): the session this owner knew stays, the other
    // ends (its connection gets DISCONNECT 0x8E).
    CASTOR_LOG(warning, "cluster",
               "client id '" << id << "' is held by " << r.holder << " and "
                             << node << ": the session on " << node << " ends");
    if (node == self->state.routes->self_node) {
      if (self->state.registry)
        self->send(self->state.registry, kick_atom::value, id);
    } else if (auto router = router_of(self->state, node)) {
      self->send(router, kick_atom::value, id);
    }
  }
}

/// Tells the owners of this node's client ids that it holds them, where
/// the owner changed from `before` to `now`.
void tell_new_owners(claims_actor* self, const std::vector<std::string>& before,
                     const std::vector<std::string>& now) {
  auto& st = self->state;
  if (!st.sessions)
    return;
  std::map<std::string, std::vector<std::string>> by_owner;
  for (auto& id : st.sessions->client_ids()) {
    auto owner = claim_owner(id, now);
    if (owner != claim_owner(id, before))
      by_owner[owner].push_back(id);
  }
  for (auto& [owner, ids] : by_owner) {
    if (owner == st.routes->self_node) {
      hold_here(self, ids, owner);
      continue;
    }
    auto router = router_of(st, owner);
    if (!router)
      continue;
    for (size_t i = 0; i < ids.size(); i += claim_chunk) {
      std::vector<std::string> part(
          ids.begin() + i, ids.begin() + std::min(ids.size(), i + claim_chunk));
      self->send(router, claim_atom::value, std::move(part),
                 st.routes->self_node);
    }
  }
}

/// The members changed: owners move, and what members that left held is
/// forgotten (their clients start anew where they reconnect).
void check_members(claims_actor* self) {
  auto& st = self->state;
  auto now = current_nodes(st);
  if (now == st.nodes)
    return;
  auto before = std::exchange(st.nodes, now);
  // What this node no longer owns goes (its holder tells the new owner),
  // and so does what a member that left held.
  auto& me = st.routes->self_node;
  for (auto i = st.owned.begin(); i != st.owned.end();) {
    auto& r = i->second;
    if (!r.busy
        && (!std::binary_search(now.begin(), now.end(), r.holder)
            || claim_owner(i->first, now) != me))
      i = st.owned.erase(i);
    else
      ++i;
  }
  tell_new_owners(self, before, now);
  flush_replicas(self, true);
  tick_replicas(self);
}

/// How often a fence under way looks at the forwards in flight.
constexpr std::chrono::milliseconds fence_poll{1};

/// Begins the fence that `next` waits for, if none is under way.
void begin_fence(claims_actor* self) {
  auto& f = self->state.fences;
  if (f.running || f.next.empty())
    return;
  f.running = true;
  f.now = std::exchange(f.next, {});
  f.fence = self->state.routes->begin_fence();
  f.deadline = self->clock().now() + node_fence_timeout;
  self->send(self, fence_atom::value, f.fence);
}

/// The fence under way: over once the forwards entered before it have
/// left (or its time is up); then the next begins.
void check_fence(claims_actor* self) {
  auto& f = self->state.fences;
  if (!f.running)
    return;
  if (!self->state.routes->fence_passed(f.fence)
      && self->clock().now() < f.deadline) {
    self->delayed_send(self, fence_poll, fence_atom::value, f.fence);
    return;
  }
  f.running = false;
  for (auto& rp : std::exchange(f.now, {}))
    rp.deliver(true);
  begin_fence(self);
}

/// A fence of the whole group, for a session of this node that moved:
/// answered once every member's fence is.
void group_fence(claims_actor* self, caf::response_promise rp) {
  auto members = self->state.routes->member_routers();
  if (members.empty()) {
    rp.deliver(true);
    return;
  }
  auto left = std::make_shared<size_t>(members.size());
  auto done = [rp, left]() mutable {
    if (--*left == 0)
      rp.deliver(true);
  };
  for (auto& [node, router] : members)
    self->request(router, group_fence_timeout, fence_atom::value)
        .then([done](bool) mutable { done(); },
              [done, node = node](caf::error& err) mutable {
                CASTOR_LOG(debug, "cluster",
                           "no fence from " << node << ": " << to_string(err));
                done();
              });
}

/// A CONNECT of `id` takes the replica this node keeps of its session, if
/// the session's node has left (actors/cluster_replicas.hpp).
std::optional<session_snapshot> take_replica(claims_actor* self,
                                             const std::string& id, bool resume,
                                             const std::string& principal) {
  auto& st = self->state;
  auto snap = st.replicas.take(id, resume, principal, st.refuse_foreign,
                               router_lookup(st));
  if (!snap)
    return snap;
  count_kept(st);
  publish_due_wills(self);
  if (snap->present) {
    st.routes->sessions_resumed.fetch_add(1, std::memory_order_relaxed);
    CASTOR_LOG(info, "cluster",
               "client id '" << id << "': its session resumes from the replica"
                             << " of a node that left (" << snap->subs.size()
                             << " subscriptions)");
  }
  return snap;
}

/// The node's registry claims `id` for a CONNECT: the session's state from
/// the node that held it, if any.
void claim(claims_actor* self, const std::string& id, bool resume,
           const std::string& principal,
           caf::typed_response_promise<session_snapshot> rp) {
  check_members(self); // the owner as the members are now
  auto& st = self->state;
  auto me = st.routes->self_node;
  auto owner = claim_owner(id, st.nodes);
  // Once the previous holder is known: take the session from it, then
  // tell the owner that the claim is done.
  auto with_previous = [self, id, resume, principal, rp, me,
                        owner](std::string previous) mutable {
    auto done = [self, id, owner](const std::string& holder) {
      auto& me = self->state.routes->self_node;
      if (owner == me)
        claim_done(self, id, me, holder);
      else if (auto r = router_of(self->state, owner))
        self->send(r, claimed_atom::value, id, me, holder);
    };
    if (previous == me) {
      // The session of a node that left, kept here.
      if (auto snap = take_replica(self, id, resume, principal)) {
        rp.deliver(std::move(*snap));
        done(me);
        return;
      }
    }
    caf::actor from;
    if (!previous.empty() && previous != me)
      from = router_of(self->state, previous);
    if (!from) {
      rp.deliver(session_snapshot{});
      done(me);
      return;
    }
    self->request(from, handover_timeout, handover_atom::value, id, resume,
                  principal)
        .then(
            [=](session_snapshot& snap) mutable {
              auto holder = snap.refused ? previous : me;
              if (snap.present)
                self->state.routes->sessions_moved.fetch_add(
                    1, std::memory_order_relaxed);
              rp.deliver(std::move(snap));
              done(holder);
            },
            [=](caf::error& err) mutable {
              self->state.routes->claims_failed.fetch_add(
                  1, std::memory_order_relaxed);
              CASTOR_LOG(warning, "cluster",
                         "client id '" << id << "': " << previous
                                       << " did not hand its session over ("
                                       << to_string(err) << ")");
              rp.deliver(session_snapshot{});
              done(me);
            });
  };
  if (owner == me || owner.empty()) {
    claim_here(self, id, me, std::move(with_previous));
    return;
  }
  auto router = router_of(st, owner);
  if (!router) { // the members changed under us: start on our own
    rp.deliver(session_snapshot{});
    return;
  }
  self->request(router, claim_owner_timeout, claim_atom::value, id, me)
      .then([=](std::string& previous) mutable { with_previous(previous); },
            [=](caf::error& err) mutable {
              self->state.routes->claims_failed.fetch_add(
                  1, std::memory_order_relaxed);
              CASTOR_LOG(warning, "cluster",
                         "client id '" << id << "': its owner " << owner
                                       << " did not answer the claim ("
                                       << to_string(err) << ")");
              rp.deliver(session_snapshot{});
            });
}

caf::behavior claims_impl(claims_actor* self, cluster_routes_ptr routes,
                          session_directory_ptr sessions, bool refuse_foreign) {
  auto& st = self->state;
  st.routes = routes;
  st.sessions = std::move(sessions);
  st.nodes = current_nodes(st);
  st.refuse_foreign = refuse_foreign;
  drop_unexpected(self, routes, "the client-id registry");
  // A session whose replica this node sends has ended (or moved on): its
  // keeper drops the replica. (At shutdown this actor ends first, so the
  // replicas of a node that stops stay with their keepers.)
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (auto d = st.replicas.gone(dm.source))
      if (auto router = router_of(st, d->first))
        self->send(router, replica_atom::value,
                   std::vector<std::string>{std::move(d->second)},
                   st.routes->self_node);
    schedule_flush(self); // a part of it stays, and goes again
  });
  self->send(self, tick_atom::value);
  // Local messages come from this node's registry and the server; the
  // others through this node's router, which takes them from members only.
  auto local = [self] {
    auto& sender = self->current_sender();
    return sender && sender->node() == self->node();
  };
  return {
      [=](claim_atom, const caf::actor& registry, const caf::actor& tree) {
        // From the server (no member can send it: the router does not
        // pass it on, and nothing else of this actor is published).
        self->state.registry = registry;
        self->state.tree = tree;
      },
      [=](claim_atom, const std::string& id, bool resume,
          const std::string& principal) -> caf::result<session_snapshot> {
        auto rp = self->make_response_promise<session_snapshot>();
        claim(self, id, resume, principal, rp);
        return rp;
      },
      [=](release_atom, const std::string& id) {
        auto& st = self->state;
        auto owner = claim_owner(id, st.nodes);
        if (owner == st.routes->self_node || owner.empty())
          release_here(self, id, st.routes->self_node);
        else if (auto r = router_of(st, owner))
          self->send(r, release_atom::value, id, st.routes->self_node);
      },
      [=](replica_atom, session_replica& change) {
        // From a session of this node: what changed of it.
        auto& st = self->state;
        auto& sender = self->current_sender();
        if (!local() || !sender)
          return;
        if (st.replicas.change(caf::actor_cast<caf::actor_addr>(sender),
                               std::move(change)))
          self->monitor(sender);
        schedule_flush(self);
      },
      [=](replica_atom) {
        if (!local())
          return;
        self->state.flush_due = false;
        flush_replicas(self, false);
      },
      // From members (through the router):
      [=](replica_atom, std::vector<session_replica>& rs) {
        auto& st = self->state;
        if (auto refused = st.replicas.keep(std::move(rs), router_lookup(st)))
          CASTOR_LOG(warning, "cluster",
                     "refused " << refused << " session replicas: this node"
                                << " keeps " << replicas_max << " at most");
        count_kept(st);
      },
      [=](replica_atom, const std::vector<std::string>& ids,
          const std::string& holder) {
        auto& st = self->state;
        st.replicas.drop(ids, holder);
        count_kept(st);
      },
      [=](replica_atom, will_atom, const std::vector<std::string>& ids,
          const std::string& holder) {
        // The holder stops: its clients' wills are not the group's.
        auto& st = self->state;
        st.replicas.drop_wills(ids, holder);
        count_kept(st);
        return true;
      },
      [=](replica_atom, will_atom) -> caf::result<bool> {
        // From the server, as this node stops: the keepers drop the wills
        // of its clients before the members see it leave.
        if (!local())
          return false;
        return withdraw_wills(self);
      },
      [=](claim_atom, const std::string& id,
          std::string& node) -> caf::result<std::string> {
        check_members(self); // a holder that left is not asked
        auto rp = self->make_response_promise<std::string>();
        claim_here(self, id, std::move(node),
                   [rp](std::string previous) mutable {
                     rp.deliver(std::move(previous));
                   });
        return rp;
      },
      [=](claimed_atom, const std::string& id, const std::string& claimer,
          const std::string& holder) { claim_done(self, id, claimer, holder); },
      [=](claimed_atom, const std::string& id, uint64_t token) {
        // A claim not done in time: the next one goes on.
        auto i = self->state.owned.find(id);
        if (i != self->state.owned.end() && i->second.busy
            && i->second.token == token && local())
          next_claim(self, id);
      },
      [=](release_atom, const std::string& id, const std::string& node) {
        release_here(self, id, node);
      },
      [=](claim_atom, const std::vector<std::string>& ids,
          const std::string& node) { hold_here(self, ids, node); },
      [=](kick_atom, const std::string& id) {
        // From the id's owner (through the router): this node's session of
        // it ends.
        if (self->state.registry && local())
          self->send(self->state.registry, kick_atom::value, id);
      },
      [=](handover_atom, const std::string& id, bool resume,
          const std::string& principal) -> caf::result<session_snapshot> {
        if (auto snap = take_replica(self, id, resume, principal))
          return std::move(*snap);
        auto& registry = self->state.registry;
        if (!registry)
          return session_snapshot{};
        auto rp = self->make_response_promise();
        rp.delegate(registry, handover_atom::value, id, resume, principal);
        return caf::delegated<session_snapshot>{};
      },
      [=](fence_atom) -> caf::result<bool> {
        // From a member (through the router).
        auto rp = self->make_response_promise();
        self->state.fences.next.push_back(rp);
        begin_fence(self);
        return caf::delegated<bool>{};
      },
      [=](fence_atom, bool) -> caf::result<bool> {
        // From a session of this node that moved.
        if (!local())
          return true;
        auto rp = self->make_response_promise();
        group_fence(self, rp);
        return caf::delegated<bool>{};
      },
      [=](fence_atom, uint64_t fence) {
        if (local() && fence == self->state.fences.fence)
          check_fence(self);
      },
      [=](tick_atom) {
        if (!local())
          return;
        auto& st = self->state;
        check_members(self); // (which looks at the replicas on a change)
        if (++st.ticks % replica_ticks == 0)
          tick_replicas(self);
        self->delayed_send(self, member_check, tick_atom::value);
      },
  };
}

} // namespace

std::string claim_owner(std::string_view client_id,
                        const std::vector<std::string>& nodes) {
  std::string best;
  uint64_t best_hash = 0;
  for (auto& n : nodes) {
    auto h = rendezvous_hash(n, client_id);
    if (best.empty() || h > best_hash || (h == best_hash && n < best)) {
      best = n;
      best_hash = h;
    }
  }
  return best;
}

caf::actor spawn_cluster_claims(caf::actor_system& sys,
                                cluster_routes_ptr routes,
                                session_directory_ptr sessions,
                                bool refuse_foreign) {
  return sys.spawn(
      [](claims_actor* self, cluster_routes_ptr r, session_directory_ptr s,
         bool refuse) {
        return census(self, metrics::actor_kind::cluster_claims,
                      claims_impl(self, std::move(r), std::move(s), refuse));
      },
      std::move(routes), std::move(sessions), refuse_foreign);
}

} // namespace castor
