#include "actors/cluster_agent.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/system_messages.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/census.hpp"
#include "actors/cluster_guard.hpp"
#include "actors/cluster_join.hpp"
#include "actors/cluster_agent_detail.hpp"
#include "actors/cluster_router.hpp"
#include "actors/types.hpp"
#include "log/log.hpp"

namespace castor {

const char* name(member_change c) noexcept {
  static constexpr const char* names[]
      = {"joined", "left", "failed", "replaced"};
  auto i = static_cast<size_t>(c);
  return i < std::size(names) ? names[i] : "unknown";
}

namespace {

using namespace cluster_agent_detail;
using cluster_detail::join_mac;

/// The steps of a join wait this long at most: a join that gets no answer
/// (a connection CAF dropped under it) is tried again soon.
milliseconds join_timeout(agent_actor* self) {
  return std::min(milliseconds{5000}, request_timeout(self));
}

std::vector<cluster_member> member_list(agent_actor* self) {
  std::vector<cluster_member> out{me(self)};
  for (auto& [_, p] : self->state.members)
    out.push_back(p.info);
  return out;
}

void publish_view(agent_actor* self) {
  std::vector<cluster_view::member> ms;
  for (auto& [_, p] : self->state.members)
    ms.push_back({p.info, p.since, p.stats});
  self->state.view->set_members(std::move(ms));
}

void gossip(agent_actor* self) {
  auto list = member_list(self);
  for (auto& [_, p] : self->state.members)
    self->send(p.agent, cl_members_atom::value, list);
}

void remove_member(agent_actor* self, const std::string& node,
                   member_change why, const std::string& reason) {
  auto& st = self->state;
  auto it = st.members.find(node);
  if (it == st.members.end())
    return;
  auto info = it->second.info;
  self->demonitor(it->second.agent);
  st.members.erase(it);
  st.routes->drop_member(info.node); // `node` may be the erased entry's
  st.view->count(why);
  CASTOR_LOG(info, "cluster",
             "member " << info.node << " (" << endpoint(info) << ") "
                       << (why == member_change::left ? "left" : "failed")
                       << (reason.empty() ? "" : ": ") << reason
                       << "; members: " << st.members.size() + 1);
  publish_view(self);
  if (why != member_change::left && !st.leaving) {
    // It may come back (or only the link failed): keep trying to join it.
    auto& t = st.targets[endpoint(info)];
    t.host = info.host;
    t.port = info.port;
    t.until = clock::now() + lost_retry_period;
    t.node = info.node;
    t.backoff = first_retry;
    t.next_try = clock::now() + first_retry;
  }
}

void add_member(agent_actor* self, const cluster_member& info,
                caf::actor agent) {
  auto& st = self->state;
  if (st.leaving || !agent)
    return;
  auto now = clock::now();
  auto it = st.members.find(info.node);
  if (it != st.members.end()) {
    auto& p = it->second;
    if (info.incarnation < p.info.incarnation)
      return; // an older run of a node that has restarted since
    if (info.incarnation == p.info.incarnation) {
      // It joins again: it had lost this node (the loss was one-sided, as
      // in a partition that healed) and has dropped this node's routes.
      p.last_heard = now;
      if (p.agent != agent) {
        self->demonitor(p.agent);
        p.agent = agent;
        self->monitor(agent);
      }
      send_routes(self, agent, route_update(self, true));
      return;
    }
    CASTOR_LOG(info, "cluster",
               "member " << info.node << " restarted (" << endpoint(info)
                         << ", incarnation " << info.incarnation << ")");
    self->demonitor(p.agent);
    st.view->count(member_change::replaced);
    p = peer{info, agent, now, std::chrono::system_clock::now(), {}};
  } else {
    st.members.emplace(
        info.node,
        peer{info, agent, now, std::chrono::system_clock::now(), {}});
    st.view->count(member_change::joined);
    CASTOR_LOG(info, "cluster",
               "member " << info.node << " joined (" << endpoint(info)
                         << "); members: " << st.members.size() + 1);
  }
  self->monitor(agent);
  publish_view(self);
  gossip(self);
  send_routes(self, agent, route_update(self, true));
  auto early = std::move(st.early);
  st.early.clear();
  for (auto& [from, u] : early) {
    if (from == agent.address())
      take_routes(self, info, agent, u);
    else
      st.early.emplace_back(from, std::move(u));
  }
}

peer* member_by_addr(agent_actor* self, const caf::actor_addr& addr) {
  for (auto& [_, p] : self->state.members)
    if (p.agent && p.agent.address() == addr)
      return &p;
  return nullptr;
}

/// The address of the current message's sender (empty for an anonymous
/// message).
caf::actor_addr sender_addr(agent_actor* self) {
  auto& sender = self->current_sender();
  return sender ? caf::actor_cast<caf::actor_addr>(sender) : caf::actor_addr{};
}

void join_failed(agent_actor* self, const std::string& key,
                 const std::string& why) {
  auto& st = self->state;
  st.connecting.erase(key);
  auto it = st.targets.find(key);
  if (it == st.targets.end()) {
    CASTOR_LOG(warning, "cluster", "cannot join " << key << ": " << why);
    return;
  }
  auto& t = it->second;
  // The first failure of a run is worth a line; the retries are not.
  if (t.failures++ == 0)
    CASTOR_LOG(warning, "cluster",
               "cannot join " << key << ": " << why << "; retrying");
  else
    CASTOR_LOG(debug, "cluster", "cannot join " << key << ": " << why);
}

void join_succeeded(agent_actor* self, const std::string& key,
                    const std::string& node) {
  auto& st = self->state;
  st.connecting.erase(key);
  if (auto it = st.targets.find(key); it != st.targets.end()) {
    it->second.node = node;
    it->second.failures = 0;
    it->second.backoff = first_retry;
  }
}

/// The initiating side of a join: connect, hello, check the challenge,
/// prove, and take the members the other side knows.
void try_join(agent_actor* self, const std::string& host, uint16_t port) {
  auto& st = self->state;
  auto key = endpoint(host, port);
  if (st.leaving || !st.connecting.insert(key).second)
    return;
  auto mm = settings(self).tls ? self->system().openssl_manager().actor_handle()
                               : self->system().middleman().actor_handle();
  self->request(mm, join_timeout(self), caf::connect_atom::value, host, port)
      .then(
          [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
              const std::set<std::string>&) {
            if (!ptr)
              return join_failed(self, key, "no node agent there");
            auto remote = caf::actor_cast<caf::actor>(ptr);
            auto nonce = security::random_bytes(16);
            cluster_hello h{cluster_protocol_version, settings(self).group,
                            me(self), nonce};
            self->request(remote, join_timeout(self), cl_hello_atom::value,
                          std::move(h))
                .then(
                    [=](cluster_challenge& c) {
                      auto& s = settings(self);
                      if (!c.refused.empty()) {
                        self->state.view->count_refusal();
                        return join_failed(self, key, "refused: " + c.refused);
                      }
                      if (c.version < cluster_protocol_min_version
                          || c.version > cluster_protocol_version)
                        return join_failed(self, key,
                                           "it speaks protocol version "
                                               + std::to_string(c.version));
                      auto want = join_mac(s, "challenge", c.version, c.from,
                                           nonce, c.nonce);
                      if (!security::constant_time_equal(want, c.mac)) {
                        self->state.view->count_refusal();
                        return join_failed(
                            self, key,
                            "it did not prove the group's secret (a "
                            "different secret_file?)");
                      }
                      if (c.from.node == me(self).node
                          && c.from.incarnation == me(self).incarnation) {
                        // This node's own endpoint (a seed list that names
                        // every node): nothing to join.
                        self->state.connecting.erase(key);
                        if (auto t = self->state.targets.find(key);
                            t != self->state.targets.end())
                          t->second.is_self = true;
                        return;
                      }
                      cluster_proof p{c.nonce,
                                      join_mac(s, "proof", c.version, me(self),
                                               c.nonce, nonce)};
                      auto from = c.from;
                      self->request(remote, join_timeout(self),
                                    cl_proof_atom::value, std::move(p))
                          .then(
                              [=](cluster_welcome& w) {
                                if (!w.refused.empty()) {
                                  self->state.view->count_refusal();
                                  return join_failed(self, key,
                                                     "refused: " + w.refused);
                                }
                                join_succeeded(self, key, from.node);
                                add_member(self, from, remote);
                                self->send(self, cl_members_atom::value,
                                           std::move(w.members));
                              },
                              [=](caf::error& err) {
                                join_failed(self, key, to_string(err));
                              });
                    },
                    [=](caf::error& err) {
                      join_failed(self, key, to_string(err));
                    });
          },
          [=](caf::error& err) { join_failed(self, key, to_string(err)); });
}

/// Members learnt from another member (or from a welcome): join those this
/// node does not hold yet.
void learn(agent_actor* self, const std::vector<cluster_member>& list) {
  auto& st = self->state;
  for (auto& m : list) {
    if (m.node == me(self).node)
      continue;
    auto it = st.members.find(m.node);
    if (it != st.members.end() && it->second.info.incarnation >= m.incarnation)
      continue;
    auto key = endpoint(m);
    auto& t = st.targets[key];
    if (t.host.empty()) {
      t.host = m.host;
      t.port = m.port;
      t.until = clock::now() + learnt_retry_period;
    }
    // Two nodes that learn of each other at once would connect to each
    // other at once: CAF keeps one of the two connections, and a join
    // under way on the other can be lost. The node with the smaller name
    // joins now; the other waits a little (its tick joins if nobody did).
    if (me(self).node > m.node) {
      t.next_try = clock::now() + 2 * first_retry;
      continue;
    }
    t.next_try = clock::now() + t.backoff;
    try_join(self, m.host, m.port);
  }
}

cluster_challenge refuse(agent_actor* self, const cluster_hello& h,
                         std::string why) {
  self->state.view->count_refusal();
  CASTOR_LOG(warning, "cluster",
             "refused " << (h.from.node.empty() ? "a node" : h.from.node)
                        << " (" << endpoint(h.from) << "): " << why);
  cluster_challenge c;
  c.refused = std::move(why);
  return c;
}

cluster_challenge on_hello(agent_actor* self, cluster_hello& h) {
  auto& st = self->state;
  auto& s = settings(self);
  if (st.leaving)
    return refuse(self, h, "this node is leaving");
  if (h.version < cluster_protocol_min_version)
    return refuse(self, h,
                  "protocol version " + std::to_string(h.version)
                      + " is older than this node accepts ("
                      + std::to_string(cluster_protocol_min_version) + ")");
  if (h.group != s.group)
    return refuse(self, h, "it belongs to another group");
  if (h.from.node == me(self).node
      && h.from.incarnation != me(self).incarnation)
    return refuse(self, h, "node name '" + h.from.node + "' is this node's");
  if (h.nonce.size() < 16)
    return refuse(self, h, "malformed hello");
  auto known = st.members.count(h.from.node) > 0;
  if (!known && h.from.node != me(self).node
      && st.members.size() + 1 >= s.max_members)
    return refuse(self, h,
                  "the group is full (max_members "
                      + std::to_string(s.max_members) + ")");
  auto now = clock::now();
  for (auto it = st.pending.begin(); it != st.pending.end();)
    it = now - it->second.at > pending_lifetime ? st.pending.erase(it)
                                                : std::next(it);
  if (st.pending.size() >= max_pending) {
    auto oldest = std::min_element(
        st.pending.begin(), st.pending.end(),
        [](auto& a, auto& b) { return a.second.at < b.second.at; });
    st.pending.erase(oldest);
  }
  cluster_challenge c;
  c.version = std::min(h.version, cluster_protocol_version);
  c.from = me(self);
  c.nonce = security::random_bytes(16);
  c.mac = join_mac(s, "challenge", c.version, c.from, h.nonce, c.nonce);
  st.pending[c.nonce] = challenge_state{h, sender_addr(self), c.version, now};
  return c;
}

cluster_welcome on_proof(agent_actor* self, cluster_proof& p) {
  auto& st = self->state;
  cluster_welcome w;
  auto it = st.pending.find(p.nonce);
  if (it == st.pending.end()) {
    w.refused = "no such challenge (it expired?)";
    return w;
  }
  auto pend = std::move(it->second);
  st.pending.erase(it);
  auto sender = self->current_sender();
  if (!sender || sender_addr(self) != pend.from) {
    w.refused = "the proof came from another actor than the hello";
    return w;
  }
  auto want = join_mac(settings(self), "proof", pend.version, pend.hello.from,
                       p.nonce, pend.hello.nonce);
  if (!security::constant_time_equal(want, p.mac)) {
    st.view->count_refusal();
    CASTOR_LOG(warning, "cluster",
               "refused " << pend.hello.from.node << " ("
                          << endpoint(pend.hello.from)
                          << "): it did not prove the group's secret");
    w.refused = "the group's secret was not proved";
    return w;
  }
  if (st.leaving) {
    w.refused = "this node is leaving";
    return w;
  }
  add_member(self, pend.hello.from, caf::actor_cast<caf::actor>(sender));
  w.members = member_list(self);
  return w;
}

void tick(agent_actor* self) {
  auto& st = self->state;
  auto& s = settings(self);
  auto now = clock::now();
  std::vector<std::string> silent;
  std::optional<cluster_node_stats> stats;
  if (st.view->local_stats && !st.members.empty())
    stats = st.view->local_stats();
  for (auto& [node, p] : st.members) {
    if (now - p.last_heard > s.failure_timeout) {
      silent.push_back(node);
      continue;
    }
    self->send(p.agent, cl_beat_atom::value, me(self).node,
               me(self).incarnation);
    if (stats)
      self->send(p.agent, cl_stats_atom::value, me(self).node,
                 me(self).incarnation, *stats);
  }
  for (auto& node : silent)
    remove_member(self, node, member_change::failed,
                  "not heard from for "
                      + std::to_string(s.failure_timeout.count()) + " ms");
  for (auto it = st.targets.begin(); it != st.targets.end();) {
    auto& t = it->second;
    if (!t.seed && now > t.until) {
      it = st.targets.erase(it);
      continue;
    }
    auto held
        = (!t.node.empty() && st.members.count(t.node) > 0)
          || std::any_of(st.members.begin(), st.members.end(), [&](auto& kv) {
               return endpoint(kv.second.info) == it->first;
             });
    if (t.is_self || held || st.connecting.count(it->first) > 0
        || now < t.next_try) {
      ++it;
      continue;
    }
    t.next_try = now + t.backoff;
    t.backoff = std::min(max_retry, t.backoff * 2);
    try_join(self, t.host, t.port);
    ++it;
  }
}

caf::behavior agent(agent_actor* self, cluster_view_ptr view,
                    cluster_routes_ptr routes, caf::actor router) {
  self->state.view = std::move(view);
  self->state.routes = std::move(routes);
  self->state.router = std::move(router);
  auto& s = settings(self);
  auto now = clock::now();
  for (auto& [host, port] : s.seeds) {
    auto& t = self->state.targets[endpoint(host, port)];
    t.host = host;
    t.port = port;
    t.seed = true;
    t.next_try = now; // the first tick tries every seed
  }
  publish_view(self);
  drop_unexpected(self, self->state.routes, "the node agent");
  self->set_down_handler([=](caf::down_msg& dm) {
    if (auto p = member_by_addr(self, dm.source))
      remove_member(self, p->info.node, member_change::failed,
                    "connection lost (" + to_string(dm.reason) + ")");
  });
  return census(
      self, metrics::actor_kind::cluster_agent,
      {
          [=](open_atom) {
            if (self->state.started)
              return;
            self->state.started = true;
            self->send(self, tick_atom::value);
          },
          [=](tick_atom) {
            if (self->state.leaving)
              return;
            tick(self);
            self->delayed_send(self, settings(self).heartbeat,
                               tick_atom::value);
          },
          [=](cl_hello_atom, cluster_hello& h) { return on_hello(self, h); },
          [=](cl_route_atom, const std::string& filter,
              bool add) -> caf::result<bool> {
            if (sender_addr(self).node() != self->node())
              return false;
            local_route(self, filter, add);
            return route_announced(self, add);
          },
          [=](cl_route_atom, const std::string& key,
              uint32_t n) -> caf::result<bool> {
            if (sender_addr(self).node() != self->node())
              return false;
            local_share(self, key, n);
            return route_announced(self, n > 0);
          },
          [=](cl_flush_atom) { flush_routes(self); },
          [=](cl_sync_atom, publish_batch& b) {
            // A member's retained messages, and the topics its API added
            // (when it joined): the router hands them on.
            if (member_by_addr(self, sender_addr(self)))
              self->send(self->state.router, cl_sync_atom::value, std::move(b));
          },
          [=](cl_topic_atom, std::vector<cluster_topic>& ts) {
            if (member_by_addr(self, sender_addr(self)))
              self->send(self->state.router, cl_topic_atom::value,
                         std::move(ts));
          },
          [=](cl_routes_atom, cluster_route_update& u) {
            // Answered once taken (the sender's subscribers wait for it).
            auto addr = sender_addr(self);
            if (auto p = member_by_addr(self, addr)) {
              take_routes(self, p->info, p->agent, u);
              return true;
            }
            // Before the welcome that makes it a member, perhaps.
            auto& early = self->state.early;
            if (early.size() >= max_early_routes)
              early.erase(early.begin());
            early.emplace_back(addr, std::move(u));
            return true;
          },
          [=](cl_proof_atom, cluster_proof& p) { return on_proof(self, p); },
          [=](cl_beat_atom, const std::string& node, uint64_t incarnation) {
            auto p = member_by_addr(self, sender_addr(self));
            if (p && p->info.node == node && p->info.incarnation == incarnation)
              p->last_heard = clock::now();
          },
          [=](cl_stats_atom, const std::string& node, uint64_t incarnation,
              cluster_node_stats& x) {
            auto p = member_by_addr(self, sender_addr(self));
            if (p && p->info.node == node
                && p->info.incarnation == incarnation) {
              p->stats = x;
              publish_view(self);
            }
          },
          [=](cl_members_atom, const std::vector<cluster_member>& list) {
            // From a member, or from this agent (a welcome's list).
            auto addr = sender_addr(self);
            if (addr != self->address() && !member_by_addr(self, addr))
              return;
            learn(self, list);
          },
          [=](cl_leave_atom, const std::string& node,
              uint64_t incarnation) -> bool {
            auto p = member_by_addr(self, sender_addr(self));
            if (!p || p->info.node != node
                || p->info.incarnation != incarnation)
              return false;
            remove_member(self, node, member_change::left, "");
            return true;
          },
          [=](cl_leave_atom) -> caf::result<bool> {
            // This node stops: tell every member and wait (bounded) for
            // their acknowledgements, so that none takes it for failed.
            auto& st = self->state;
            st.leaving = true;
            auto rp = self->make_response_promise<bool>();
            auto left = std::make_shared<size_t>(st.members.size() + 1);
            auto done = [=]() mutable {
              if (--*left == 0) {
                rp.deliver(true);
                self->quit();
              }
            };
            for (auto& [_, p] : st.members)
              self->request(p.agent, leave_wait, cl_leave_atom::value,
                            me(self).node, me(self).incarnation)
                  .then([=](bool) mutable { done(); },
                        [=](caf::error&) mutable { done(); });
            done();
            return rp;
          },
      });
}

} // namespace

caf::actor spawn_cluster_agent(caf::actor_system& sys, cluster_view_ptr view,
                               cluster_routes_ptr routes, caf::actor router) {
  return sys.spawn(agent, std::move(view), std::move(routes),
                   std::move(router));
}

} // namespace castor
