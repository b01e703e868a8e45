#pragma once

// A topic's deliveries to its subscriber sessions: the credit each batch
// takes (actors/topic.hpp, "Flow control"), and the turns of a share
// group's members, across the nodes of a group too (the messages the
// publishing node picked for this one, actors/topic_forward.hpp). Part of
// the topic actor (actors/topic.cpp).

#include <algorithm>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/iface/implement.hpp"
#include "actors/iface/session.hpp"
#include "actors/topic.hpp"
#include "actors/topic_store.hpp"
#include "log/log.hpp"

namespace castor::topic_detail {

/// Whether `session` is still a member of one of the topic's share groups.
inline bool in_share_group(const topic_state& st, const caf::actor& session) {
  for (auto& [key, g] : st.groups)
    for (auto& m : g.members)
      if (m.session == session)
        return true;
  return false;
}

inline uint64_t footprint_of(const std::vector<update>& us) {
  uint64_t n = 0;
  for (auto& u : us)
    n += u.footprint();
  return n;
}

/// Sends `batch` to `session`, taking a unit of its credit and
/// `batch.bytes` (footprint_of its items).
template <class Self>
void deliver(Self* self, const caf::actor& session, update_batch&& batch) {
  auto& st = self->state;
  auto& c = st.outstanding[session];
  bool was = c.exhausted();
  ++c.batches;
  c.bytes += batch.bytes;
  if (!was && c.exhausted()) {
    ++st.blocked;
    CASTOR_LOG(trace, "topic " << st.name, "blocked by " << session.id());
    if (st.spec && st.spec->conflation == conflation_mode::unsubscribe
        && !batch.shared)
      st.behind.push_back(session);
  }
  send_as<session_interface>(self, session, deliver_atom::value,
                             std::move(batch));
}

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

/// Sends updates to share group `g`: each to one member, in turn.
template <class Self>
void share_out(Self* self, topic_state::share_group& g,
               const std::vector<update>& ups) {
  auto& st = self->state;
  std::unordered_map<topic_state::member*, std::vector<update>> per;
  for (auto& u : ups)
    per[&next_member(st, g)].push_back(u);
  for (auto& [mb, items] : per) {
    auto bytes = footprint_of(items);
    auto stored = store_deliveries(self, mb->durable, items, *mb->options,
                                   true);
    deliver(self, mb->session,
            update_batch{
                std::make_shared<const std::vector<update>>(std::move(items)),
                mb->options, true, bytes, stored});
  }
}

/// Sends share group `key` its part of `ups`: what `shares` picked for it
/// (`from` tells which message each update comes from).
template <class Self>
void share_picked(Self* self, const std::string& key,
                  topic_state::share_group& g, const std::vector<update>& ups,
                  const share_filter& shares,
                  const std::vector<uint32_t>& from) {
  auto p = std::find_if(shares.picks.begin(), shares.picks.end(),
                        [&](const share_pick& x) { return x.key == key; });
  if (p == shares.picks.end()) {
    if (!shares.exclusive)
      share_out(self, g, ups);
    return;
  }
  std::vector<update> mine;
  for (size_t j = 0; j < ups.size(); ++j)
    if (std::binary_search(p->indices.begin(), p->indices.end(), from[j]))
      mine.push_back(ups[j]);
  if (!mine.empty())
    share_out(self, g, mine);
}

} // namespace castor::topic_detail
