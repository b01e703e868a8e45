#include "actors/topic.hpp"

#include <algorithm>
#include <chrono>

#include <caf/all.hpp>

#include "actors/iface/implement.hpp"
#include "actors/iface/session.hpp"
#include "actors/timers.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

using entry = topic_state::entry;

topic_state::entry make_entry(const topic_subscription& ts) {
  return entry{ts.filter, ts.max_qos, ts.no_local, ts.retain_as_published,
               ts.subscription_id};
}

std::string group_key(const std::string& group, const std::string& filter) {
  std::string k = group;
  k.push_back('\0');
  k += filter;
  return k;
}

/// The delivery of `m` to a subscriber with these entries, if any applies.
bool make_delivery(const mqtt::message_ptr& m, const std::string& client_id,
                   const std::vector<entry>& entries, mqtt::delivery& out) {
  bool any = false;
  uint8_t qos = 0;
  bool rap = false;
  out.subscription_ids.clear();
  for (auto& e : entries) {
    if (e.no_local && !m->origin.empty() && m->origin == client_id)
      continue;
    any = true;
    qos = std::max(qos, std::min(m->qos, e.max_qos));
    rap = rap || e.retain_as_published;
    if (e.subscription_id != 0)
      out.subscription_ids.push_back(e.subscription_id);
  }
  if (!any)
    return false;
  out.msg = m;
  out.qos = qos;
  out.retain = rap && m->retain;
  return true;
}

mqtt::delivery share_delivery(const mqtt::message_ptr& m, const entry& e) {
  mqtt::delivery d;
  d.msg = m;
  d.qos = std::min(m->qos, e.max_qos);
  d.retain = e.retain_as_published && m->retain;
  if (e.subscription_id != 0)
    d.subscription_ids.push_back(e.subscription_id);
  d.from_share = true;
  return d;
}

uint64_t footprint_of(const delivery_batch& b) {
  uint64_t n = 0;
  for (auto& d : b.items)
    if (d.msg)
      n += mqtt::footprint(*d.msg);
  return n;
}

/// Sends `batch` to `session`, taking a unit of its credit.
template <class Self>
void deliver(Self* self, const caf::actor& session, delivery_batch&& batch) {
  auto& st = self->state;
  auto& c = st.outstanding[session];
  bool was = c.exhausted();
  ++c.batches;
  c.bytes += footprint_of(batch);
  if (!was && c.exhausted()) {
    ++st.blocked;
    CASTOR_LOG(trace, "topic " << st.name, "blocked by " << session.id());
  }
  send_as<session_interface>(self, session, deliver_atom::value,
                             std::move(batch));
}

template <class Self>
void forget_session(Self* self, const caf::actor& session) {
  auto& st = self->state;
  auto i = st.outstanding.find(session);
  CASTOR_LOG(trace, "topic " << st.name,
             "forget " << session.id() << " known "
                       << (i != st.outstanding.end()));
  if (i == st.outstanding.end())
    return;
  if (i->second.exhausted())
    --st.blocked;
  st.outstanding.erase(i);
}

template <class Self>
void fan_out(Self* self, const std::vector<mqtt::message_ptr>& msgs);

/// The next member of a share group to get a message: in turn, passing over
/// members whose credit is used up (a member that stopped reading holds
/// nobody up), unless all of them are.
inline topic_state::member& next_member(topic_state& st,
                                        topic_state::share_group& g) {
  for (size_t k = 0; k < g.members.size(); ++k) {
    auto& mb = g.members[g.next++ % g.members.size()];
    auto c = st.outstanding.find(mb.session);
    if (c == st.outstanding.end() || !c->second.exhausted())
      return mb;
  }
  return g.members[g.next++ % g.members.size()];
}

/// Starts the idle timer if the topic holds nothing worth keeping.
template <class Self>
void arm_gc(Self* self) {
  auto& st = self->state;
  if (st.idle_ms == 0 || st.gc_armed || !st.collectable())
    return;
  st.gc_armed = true;
  send_later(self, st.timers, std::chrono::milliseconds(st.idle_ms),
             gc_check_atom::value, st.published);
}

/// Whether a session without credit holds the topic's publishes back: a
/// plain subscriber does; a share group only when none of its members has
/// credit left (the others take the messages meanwhile).
inline bool held_back(const topic_state& st) {
  if (st.blocked == 0)
    return false;
  auto exhausted = [&](const caf::actor& session) {
    auto c = st.outstanding.find(session);
    return c != st.outstanding.end() && c->second.exhausted();
  };
  for (auto& [session, c] : st.outstanding)
    if (c.exhausted() && st.subs.count(session) > 0)
      return true;
  for (auto& [key, g] : st.groups) {
    if (g.members.empty())
      continue;
    bool all = true;
    for (auto& mb : g.members)
      all = all && exhausted(mb.session);
    if (all)
      return true;
  }
  return false;
}

/// Fans out stashed publishes while no session blocks.
template <class Self>
void drain_stash(Self* self) {
  auto& st = self->state;
  while (!st.stash.empty() && !held_back(st)) {
    auto s = std::move(st.stash.front());
    st.stash.pop_front();
    fan_out(self, s.msgs);
    if (s.reply)
      s.rp.deliver(true);
  }
}

template <class Self>
void fan_out(Self* self, const std::vector<mqtt::message_ptr>& msgs) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  bool dropped_retained = false;
  for (auto& m : msgs) {
    if (m->retain) {
      if (m->payload.empty()) {
        dropped_retained = dropped_retained || st.retained != nullptr;
        st.retained.reset();
      } else {
        st.retained = m;
      }
    }
  }
  if (dropped_retained && !st.retained)
    arm_gc(self);
  for (auto& [session, sub] : st.subs) {
    delivery_batch batch;
    batch.items.reserve(msgs.size());
    for (auto& m : msgs) {
      if (mqtt::expired(*m, now))
        continue;
      mqtt::delivery d;
      if (make_delivery(m, sub.client_id, sub.entries, d))
        batch.items.emplace_back(std::move(d));
    }
    if (!batch.items.empty())
      deliver(self, session, std::move(batch));
  }
  if (st.groups.empty())
    return;
  // Shared subscriptions: each message to one member, in turn.
  std::unordered_map<caf::actor, delivery_batch> shared;
  for (auto& [key, g] : st.groups) {
    if (g.members.empty())
      continue;
    for (auto& m : msgs) {
      if (mqtt::expired(*m, now))
        continue;
      auto& mb = next_member(st, g);
      shared[mb.session].items.emplace_back(share_delivery(m, mb.e));
    }
  }
  for (auto& [session, batch] : shared)
    deliver(self, session, std::move(batch));
}

/// Fans `msgs` out now, or stashes them while a session blocks the topic;
/// `rp` (if any) is answered once they are fanned out.
template <class Self>
void take_publishes(Self* self, std::vector<mqtt::message_ptr>&& msgs,
                    caf::response_promise* rp) {
  auto& st = self->state;
  st.published += msgs.size();
  if (!st.stash.empty() || held_back(st)) {
    st.stash.push_back(topic_state::stashed{
        std::move(msgs), rp ? *rp : caf::response_promise{}, rp != nullptr});
    return;
  }
  fan_out(self, msgs);
  if (rp)
    rp->deliver(true);
}

template <class Self>
void add_subscription(Self* self, const topic_subscription& ts) {
  auto& st = self->state;
  if (!ts.group.empty()) {
    auto& g = st.groups[group_key(ts.group, ts.filter)];
    for (auto& mb : g.members) {
      if (mb.session == ts.session) {
        mb.e = make_entry(ts);
        return;
      }
    }
    g.members.push_back(
        topic_state::member{ts.session, ts.client_id, make_entry(ts)});
    return;
  }
  auto& sub = st.subs[ts.session];
  sub.client_id = ts.client_id;
  for (auto& e : sub.entries) {
    if (e.filter == ts.filter) {
      e = make_entry(ts);
      return;
    }
  }
  sub.entries.emplace_back(make_entry(ts));
}

} // namespace

template <class Self>
caf::behavior topic_actor_impl(Self* self, std::string name) {
  self->state.name = std::move(name);
  return implement<topic_interface>(
      [=](publish_atom, publish_batch& batch) -> caf::result<bool> {
        auto rp = self->make_response_promise();
        take_publishes(self, std::move(batch.msgs), &rp);
        return rp;
      },
      [=](push_atom, publish_batch& batch) {
        // QoS 0 from a connection that does not wait for an answer.
        take_publishes(self, std::move(batch.msgs), nullptr);
      },
      [=](publish_atom, mqtt::message_ptr& m) {
        take_publishes(self, std::vector<mqtt::message_ptr>{std::move(m)},
                       nullptr);
      },
      [=](credit_atom, uint32_t n, uint64_t bytes) {
        auto& st = self->state;
        auto session = caf::actor_cast<caf::actor>(self->current_sender());
        auto i = st.outstanding.find(session);
        CASTOR_LOG(trace, "topic " << st.name,
                   "credit " << n << " from " << session.id() << " known "
                             << (i != st.outstanding.end()) << " blocked "
                             << st.blocked << " stash " << st.stash.size());
        if (i == st.outstanding.end())
          return;
        auto& c = i->second;
        bool was = c.exhausted();
        c.batches -= std::min(n, c.batches);
        c.bytes -= std::min(bytes, c.bytes);
        if (was && !c.exhausted()) {
          --st.blocked;
          CASTOR_LOG(trace, "topic " << st.name, "unblocked");
        }
        drain_stash(self);
      },
      [=](subscribe_atom, topic_subscription& ts) -> retained_batch {
        add_subscription(self, ts);
        retained_batch result;
        auto& st = self->state;
        if (!ts.group.empty() || !st.retained)
          return result;
        if (ts.retain_handling == 2 || (ts.retain_handling == 1 && ts.existed))
          return result;
        if (mqtt::expired(*st.retained, std::chrono::steady_clock::now())) {
          st.retained.reset();
          return result;
        }
        if (ts.no_local && st.retained->origin == ts.client_id)
          return result;
        mqtt::delivery d;
        d.msg = st.retained;
        d.qos = std::min(st.retained->qos, ts.max_qos);
        d.retain = true; // retained messages sent on subscribe keep RETAIN
        if (ts.subscription_id != 0)
          d.subscription_ids.push_back(ts.subscription_id);
        result.items.emplace_back(std::move(d));
        return result;
      },
      [=](attach_atom, topic_subscription& ts) { add_subscription(self, ts); },
      [=](unsub_atom, const caf::actor& session, const std::string& filter,
          const std::string& group) -> bool {
        auto& st = self->state;
        if (!group.empty()) {
          auto i = st.groups.find(group_key(group, filter));
          if (i == st.groups.end())
            return true;
          auto& ms = i->second.members;
          ms.erase(std::remove_if(ms.begin(), ms.end(),
                                  [&](const topic_state::member& m) {
                                    return m.session == session;
                                  }),
                   ms.end());
          if (ms.empty())
            st.groups.erase(i);
          bool member = false;
          for (auto& [key, g] : st.groups)
            for (auto& m : g.members)
              member = member || m.session == session;
          if (st.subs.count(session) == 0 && !member)
            forget_session(self, session);
          drain_stash(self);
          arm_gc(self);
          return true;
        }
        auto i = st.subs.find(session);
        if (i == st.subs.end())
          return true;
        auto& es = i->second.entries;
        es.erase(
            std::remove_if(es.begin(), es.end(),
                           [&](const entry& e) { return e.filter == filter; }),
            es.end());
        if (es.empty()) {
          st.subs.erase(i);
          bool member = false;
          for (auto& [key, g] : st.groups)
            for (auto& m : g.members)
              member = member || m.session == session;
          if (!member)
            forget_session(self, session);
          drain_stash(self);
          arm_gc(self);
        }
        return true;
      },
      [=](gc_config_atom, uint32_t idle_ms) {
        auto& st = self->state;
        st.tree = caf::actor_cast<topic_tree_interface>(self->current_sender());
        st.idle_ms = idle_ms;
        arm_gc(self);
      },
      [=](gc_check_atom, uint64_t mark) {
        auto& st = self->state;
        st.gc_armed = false;
        if (!st.collectable() || !st.tree)
          return;
        if (st.published != mark) {
          arm_gc(self); // used meanwhile: wait another period
          return;
        }
        st.published_at_ask = st.published;
        self->send(st.tree, retire_atom::value, st.name);
      },
      [=](retire_atom) -> bool {
        // The tree no longer hands this topic out while it waits for the
        // answer; anything sent before reached us first.
        auto& st = self->state;
        if (!st.collectable() || st.published != st.published_at_ask) {
          arm_gc(self);
          return false;
        }
        CASTOR_LOG(debug, "topic " << st.name, "retiring (idle)");
        self->quit();
        return true;
      },
      [=](redeliver_atom, const std::string& group, const std::string& filter,
          delivery_batch& batch) {
        // Messages a leaving share member did not get acknowledged: give them
        // to the remaining members of its group.
        auto& st = self->state;
        auto i = st.groups.find(group_key(group, filter));
        if (i == st.groups.end() || i->second.members.empty())
          return;
        auto& g = i->second;
        std::unordered_map<caf::actor, delivery_batch> out;
        for (auto& d : batch.items) {
          auto& mb = next_member(st, g);
          auto nd = share_delivery(d.msg, mb.e);
          nd.qos = std::min(d.qos, mb.e.max_qos);
          out[mb.session].items.emplace_back(std::move(nd));
        }
        for (auto& [session, b] : out)
          deliver(self, session, std::move(b));
      });
}

caf::behavior topic_actor(topic_actor_type* self, std::string name) {
  return topic_actor_impl(self, std::move(name));
}

caf::behavior topic_broker(topic_broker_type* self, std::string name,
                           caf::actor timers) {
  self->state.timers = std::move(timers);
  return topic_actor_impl(self, std::move(name));
}

} // namespace castor
