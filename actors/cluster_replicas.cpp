#include "actors/cluster_replicas.hpp"

#include <algorithm>

#include "actors/cluster_claims.hpp"

namespace castor {

void session_replicas::mark_dirty(const std::string& id, local_entry& e) {
  if (!e.dirty) {
    e.dirty = true;
    dirty_.push_back(id);
  }
}

bool session_replicas::forget_will(const std::string& id, local_entry& e) {
  e.will_holder = {};
  e.will = {};
  if (e.keeper.empty())
    return !e.session;
  if (!e.session) {
    drops_[e.keeper].push_back(id);
    return true;
  }
  auto& ids = will_drops_[e.keeper];
  if (std::find(ids.begin(), ids.end(), id) == ids.end())
    ids.push_back(id);
  return false;
}

bool session_replicas::change_will(const caf::actor_addr& holder,
                                   session_replica&& c) {
  auto i = outbox_.find(c.client_id);
  if (!c.has_will) {
    // Published, or cancelled, by the actor that held it.
    if (i != outbox_.end() && i->second.will_holder == holder) {
      auto& e = i->second;
      if (e.session != holder)
        by_session_.erase(holder);
      if (forget_will(i->first, e))
        outbox_.erase(i); // a dirty_ entry for it is skipped at the flush
    }
    return false;
  }
  if (i == outbox_.end())
    i = outbox_.emplace(c.client_id, local_entry{}).first;
  auto& e = i->second;
  bool fresh = false;
  if (e.will_holder != holder) {
    // A new connection of the client id (the old one is ending), or the
    // session that takes the will over from its connection.
    if (e.will_holder && e.will_holder != e.session)
      by_session_.erase(e.will_holder);
    e.will_holder = holder;
    fresh = by_session_.emplace(holder, c.client_id).second;
  }
  if (!e.session)
    e.principal = std::move(c.principal);
  e.will = std::move(c.will);
  e.will_delay = c.will_delay;
  mark_dirty(i->first, e);
  return fresh;
}

bool session_replicas::change(const caf::actor_addr& session,
                              session_replica&& c) {
  if (c.will_part)
    return change_will(session, std::move(c));
  auto i = outbox_.find(c.client_id);
  if (c.expiry == 0) {
    // The session ends with its connection now: nothing to resume. Its
    // replica goes once the session is down (`gone`): until then the
    // entry stays, with nothing to send (but a will).
    if (i != outbox_.end() && i->second.session == session) {
      i->second.subs.clear();
      i->second.expiry = 0;
      mark_dirty(c.client_id, i->second);
    }
    return false;
  }
  bool fresh = false;
  if (i == outbox_.end())
    i = outbox_.emplace(c.client_id, local_entry{}).first;
  auto& e = i->second;
  if (e.session != session) {
    // A new session of the client id here (the old one is ending).
    if (e.session && e.session != e.will_holder)
      by_session_.erase(e.session);
    e.session = session;
    e.subs.clear();
    fresh = by_session_.emplace(session, c.client_id).second;
  }
  if (c.full)
    e.subs.clear();
  for (auto& f : c.remove)
    e.subs.erase(f);
  auto n = std::min(c.subs.size(), c.subscription_ids.size());
  for (size_t k = 0; k < n; ++k) {
    auto filter = c.subs[k].filter;
    e.subs[filter] = {std::move(c.subs[k]), c.subscription_ids[k]};
  }
  e.principal = std::move(c.principal);
  e.expiry = c.expiry;
  mark_dirty(i->first, e);
  return fresh;
}

std::optional<std::pair<std::string, std::string>>
session_replicas::gone(const caf::actor_addr& session) {
  auto s = by_session_.find(session);
  if (s == by_session_.end())
    return std::nullopt;
  auto id = std::move(s->second);
  by_session_.erase(s);
  auto i = outbox_.find(id);
  if (i == outbox_.end())
    return std::nullopt;
  auto& e = i->second;
  bool session_went = e.session == session;
  bool will_went = e.will_holder == session;
  if (!session_went && !will_went)
    return std::nullopt;
  if (session_went) {
    e.session = {};
    e.subs.clear();
    e.expiry = 0;
  }
  if (e.session) {
    // Its connection has gone, the session stays: the keeper forgets the
    // will only.
    forget_will(i->first, e);
    return std::nullopt;
  }
  if (will_went) {
    e.will_holder = {};
    e.will = {};
  }
  if (e.will_holder) {
    mark_dirty(i->first, e); // the will stays, without a session
    return std::nullopt;
  }
  auto keeper = std::move(e.keeper);
  outbox_.erase(i); // a dirty_ entry for it is skipped at the flush
  if (keeper.empty())
    return std::nullopt;
  return std::make_pair(std::move(keeper), std::move(id));
}

session_replica session_replicas::whole(const std::string& id,
                                        const local_entry& e,
                                        const std::string& me) const {
  session_replica r;
  r.client_id = id;
  r.holder = me;
  r.principal = e.principal;
  r.expiry = e.expiry;
  r.full = true;
  if (e.will_holder) {
    r.has_will = true;
    r.will = e.will;
    r.will_delay = e.will_delay;
  }
  r.subs.reserve(e.subs.size());
  r.subscription_ids.reserve(e.subs.size());
  for (auto& [filter, sub] : e.subs) {
    r.subs.push_back(sub.first);
    r.subscription_ids.push_back(sub.second);
  }
  return r;
}

session_replicas::sends
session_replicas::flush(const std::string& me,
                        const std::vector<std::string>& nodes, bool moved) {
  sends out;
  out.drop_wills = std::exchange(will_drops_, {});
  out.drop = std::exchange(drops_, {});
  std::vector<std::string> others;
  for (auto& n : nodes)
    if (n != me)
      others.push_back(n);
  auto send_one = [&](const std::string& id, local_entry& e) {
    bool was_dirty = std::exchange(e.dirty, false);
    auto keeper = e.expiry == 0 && !e.will_holder ? std::string{}
                                                  : claim_owner(id, others);
    if (keeper != e.keeper && !e.keeper.empty())
      out.drop[e.keeper].push_back(id);
    if (!keeper.empty() && (was_dirty || keeper != e.keeper))
      out.put[keeper].push_back(whole(id, e, me));
    e.keeper = std::move(keeper);
  };
  if (moved) {
    for (auto& [id, e] : outbox_)
      send_one(id, e);
    dirty_.clear();
    return out;
  }
  for (auto& id : std::exchange(dirty_, {})) {
    auto i = outbox_.find(id);
    if (i != outbox_.end() && i->second.dirty)
      send_one(id, i->second);
  }
  return out;
}

std::map<std::string, std::vector<std::string>>
session_replicas::withdraw_wills() {
  std::map<std::string, std::vector<std::string>> out;
  for (auto i = outbox_.begin(); i != outbox_.end();) {
    auto& e = i->second;
    if (!e.will_holder) {
      ++i;
      continue;
    }
    if (!e.keeper.empty())
      out[e.keeper].push_back(i->first);
    if (e.will_holder != e.session)
      by_session_.erase(e.will_holder);
    e.will_holder = {};
    e.will = {};
    if (!e.session)
      i = outbox_.erase(i); // its keeper forgets it (drop_wills)
    else
      ++i;
  }
  return out;
}

void session_replicas::drop_wills(const std::vector<std::string>& ids,
                                  const std::string& holder) {
  for (auto& id : ids) {
    auto i = kept_.find(id);
    if (i == kept_.end() || i->second.r.holder != holder || i->second.r.orphan)
      continue;
    i->second.r.has_will = false;
    if (i->second.r.expiry == 0)
      kept_.erase(i);
  }
}

bool session_replicas::holder_live(kept_entry& k, const router_fn& router_of) {
  if (k.r.orphan)
    return false;
  auto r = router_of(k.r.holder);
  if (!r)
    return false;
  if (!k.holder_router)
    k.holder_router = r;
  return r == k.holder_router; // else it restarted: a new router
}

size_t session_replicas::keep(std::vector<session_replica>&& rs,
                              const router_fn& router_of) {
  size_t refused = 0;
  for (auto& r : rs) {
    auto i = kept_.find(r.client_id);
    if (i == kept_.end()) {
      if (kept_.size() >= replicas_max) {
        ++refused;
        continue;
      }
      i = kept_.emplace(r.client_id, kept_entry{}).first;
    }
    auto& k = i->second;
    if (r.orphan && k.r.client_id == r.client_id && holder_live(k, router_of))
      continue; // a session of the id lives on elsewhere: it is newer
    k.r = std::move(r);
    k.holder_router = k.r.orphan ? caf::actor{} : router_of(k.r.holder);
    k.gone_since.reset();
  }
  return refused;
}

void session_replicas::drop(const std::vector<std::string>& ids,
                            const std::string& holder) {
  for (auto& id : ids) {
    auto i = kept_.find(id);
    if (i != kept_.end() && i->second.r.holder == holder && !i->second.r.orphan)
      kept_.erase(i);
  }
}

bool session_replicas::resumable(const std::string& id,
                                 const router_fn& router_of) {
  auto i = kept_.find(id);
  return i != kept_.end() && i->second.r.expiry != 0
         && !holder_live(i->second, router_of);
}

std::optional<session_snapshot>
session_replicas::take(const std::string& id, bool resume,
                       const std::string& principal, bool refuse_foreign,
                       const router_fn& router_of) {
  auto i = kept_.find(id);
  if (i == kept_.end() || i->second.r.expiry == 0
      || holder_live(i->second, router_of))
    return std::nullopt;
  session_snapshot snap;
  auto& r = i->second.r;
  if (r.principal != principal && refuse_foreign) {
    snap.refused = true;
    return snap;
  }
  if (resume && r.principal == principal) {
    snap.present = true;
    snap.subs = std::move(r.subs);
    snap.subscription_ids = std::move(r.subscription_ids);
  } else if (r.has_will) {
    // The session ends here, before its will's delay has passed: as when
    // a session of one server ends, the will goes out now.
    due_.emplace_back(id, std::move(r.will));
  }
  kept_.erase(i);
  return snap;
}

std::map<std::string, std::vector<session_replica>> session_replicas::tick(
    const std::string& me,
    const std::function<std::string(const std::string&)>& owner,
    const router_fn& router_of, clock::time_point now) {
  std::map<std::string, std::vector<session_replica>> out;
  for (auto i = kept_.begin(); i != kept_.end();) {
    auto& k = i->second;
    if (holder_live(k, router_of)) {
      k.gone_since.reset();
      ++i;
      continue;
    }
    if (!k.gone_since)
      k.gone_since = now;
    auto away
        = std::chrono::duration_cast<std::chrono::seconds>(now - *k.gone_since)
              .count();
    if (k.r.has_will && away >= static_cast<int64_t>(k.r.will_delay)) {
      // Its delay has passed (at most the session's expiry) without a
      // CONNECT that resumed the session.
      k.r.has_will = false;
      due_.emplace_back(i->first, std::move(k.r.will));
    }
    if (k.r.expiry != 0xFFFFFFFFu && away >= static_cast<int64_t>(k.r.expiry)) {
      i = kept_.erase(i); // the session has expired (or only had a will)
      continue;
    }
    auto o = owner(i->first);
    if (!o.empty() && o != me) {
      k.r.orphan = true;
      if (k.r.expiry != 0xFFFFFFFFu)
        k.r.expiry -= static_cast<uint32_t>(away);
      k.r.will_delay -= std::min(k.r.will_delay, static_cast<uint32_t>(away));
      out[o].push_back(std::move(k.r));
      i = kept_.erase(i);
      continue;
    }
    ++i;
  }
  return out;
}

} // namespace castor
