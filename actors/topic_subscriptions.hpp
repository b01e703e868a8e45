#pragma once

// A topic's subscribers: its plain subscriptions and share groups, the
// sessions it counts credit for, and whether a session without credit
// holds its publishes back (actors/topic.hpp, "Flow control"). Part of the
// topic actor (actors/topic.cpp).

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "actors/topic.hpp"
#include "actors/topic_deliver.hpp"
#include "actors/topic_values.hpp"
#include "log/log.hpp"

namespace castor::topic_detail {

using entry = topic_state::entry;

inline entry make_entry(const topic_subscription& ts) {
  return entry{ts.filter, ts.options};
}

inline std::string group_key(const std::string& group, const std::string& filter) {
  std::string k = group;
  k.push_back('\0');
  k += filter;
  return k;
}

/// The options of `entries`, shared by every batch to their subscriber.
inline mqtt::options_list options_of(const std::vector<entry>& entries) {
  auto v = std::make_shared<std::vector<mqtt::delivery_options>>();
  v->reserve(entries.size());
  for (auto& e : entries)
    v->push_back(e.options);
  return v;
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

template <class Self>
void add_subscription(Self* self, const topic_subscription& ts) {
  auto& st = self->state;
  if (!ts.group.empty()) {
    auto& g = st.groups[group_key(ts.group, ts.filter)];
    for (auto& mb : g.members) {
      if (mb.session == ts.session) {
        count_delta(st, mb.e, -1);
        mb.e = make_entry(ts);
        count_delta(st, mb.e, +1);
        mb.options
            = std::make_shared<const std::vector<mqtt::delivery_options>>(
                1, ts.options);
        mb.durable = ts.durable ? ts.client_id : std::string{};
        return;
      }
    }
    count_delta(st, make_entry(ts), +1);
    g.members.push_back(topic_state::member{
        ts.session, make_entry(ts),
        std::make_shared<const std::vector<mqtt::delivery_options>>(
            1, ts.options),
        ts.durable ? ts.client_id : std::string{}});
    return;
  }
  auto& sub = st.subs[ts.session];
  auto e = std::find_if(sub.entries.begin(), sub.entries.end(),
                        [&](const entry& x) { return x.filter == ts.filter; });
  if (e != sub.entries.end()) {
    count_delta(st, *e, -1);
    *e = make_entry(ts);
  } else {
    sub.entries.emplace_back(make_entry(ts));
  }
  count_delta(st, make_entry(ts), +1);
  sub.options = options_of(sub.entries);
  sub.durable = ts.durable ? ts.client_id : std::string{};
}

/// Removes the session's subscription `filter` (in share group `group`,
/// if not empty); the session is forgotten once it has none left here.
/// Whether a share group's member or a session's last plain subscription
/// went (the topic may then go on, or idle).
template <class Self>
bool remove_subscription(Self* self, const caf::actor& session,
                         const std::string& filter, const std::string& group) {
  auto& st = self->state;
  if (!group.empty()) {
    auto i = st.groups.find(group_key(group, filter));
    if (i == st.groups.end())
      return false;
    auto& ms = i->second.members;
    ms.erase(std::remove_if(ms.begin(), ms.end(),
                            [&](const topic_state::member& m) {
                              if (m.session != session)
                                return false;
                              count_delta(st, m.e, -1);
                              return true;
                            }),
             ms.end());
    if (ms.empty())
      st.groups.erase(i);
    if (st.subs.count(session) == 0 && !in_share_group(st, session))
      forget_session(self, session);
    return true;
  }
  auto i = st.subs.find(session);
  if (i == st.subs.end())
    return false;
  auto& es = i->second.entries;
  es.erase(std::remove_if(es.begin(), es.end(),
                          [&](const entry& e) {
                            if (e.filter != filter)
                              return false;
                            count_delta(st, e, -1);
                            return true;
                          }),
           es.end());
  if (!es.empty()) {
    // The remaining subscriptions' options alone from now on.
    i->second.options = options_of(es);
    return false;
  }
  st.subs.erase(i);
  if (!in_share_group(st, session))
    forget_session(self, session);
  return true;
}

/// CONFLATION unsubscribe: the plain subscribers that fell behind (their
/// credit ran out) lose their subscriptions to this topic instead of
/// holding it up; their sessions keep their filters (a SUBSCRIBE again
/// brings them back).
template <class Self>
void cut_behind(Self* self) {
  auto& st = self->state;
  for (auto& session : st.behind) {
    auto i = st.subs.find(session);
    if (i == st.subs.end())
      continue;
    for (auto& e : i->second.entries)
      count_delta(st, e, -1);
    st.subs.erase(i);
    if (!in_share_group(st, session))
      forget_session(self, session);
    ++st.cut_behind;
    CASTOR_LOG(info, "topic " << st.name,
               "unsubscribed session " << session.id()
                                       << ", which fell behind (CONFLATION "
                                          "unsubscribe; "
                                       << st.cut_behind << " so far)");
  }
  st.behind.clear();
}

} // namespace castor::topic_detail
