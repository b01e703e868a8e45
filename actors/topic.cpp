#include "actors/census.hpp"
#include "actors/topic.hpp"

#include <algorithm>
#include <chrono>

#include <caf/all.hpp>

#include "actors/iface/implement.hpp"
#include "actors/iface/session.hpp"
#include "actors/topic_deliver.hpp"
#include "actors/topic_forward.hpp"
#include "actors/topic_series.hpp"
#include "actors/topic_store.hpp"
#include "actors/topic_subscriptions.hpp"
#include "actors/topic_values.hpp"
#include "actors/timers.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

using namespace topic_detail;

template <class Self>
void fan_out(Self* self, const std::vector<mqtt::message_ptr>& msgs,
             const share_filter* shares = nullptr, bool events = false);

template <class Self>
void deliver_updates(Self* self, std::vector<update>&& ups,
                     const share_filter* shares = nullptr,
                     const std::vector<uint32_t>* from = nullptr);

/// Tells the tree when the topic has gained a value or lost it, for the
/// watches of topics/notify (one message per change, not per update).
template <class Self>
void note_value(Self* self) {
  auto& st = self->state;
  bool has = static_cast<bool>(st.last);
  if (has == st.announced || !st.tree)
    return;
  st.announced = has;
  self->send(st.tree, exists_atom::value, st.name, has);
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

/// Fans out stashed publishes while no session blocks.
template <class Self>
void drain_stash(Self* self) {
  auto& st = self->state;
  while (!st.stash.empty() && !held_back(st)) {
    auto s = std::move(st.stash.front());
    st.stash.pop_front();
    if (s.run) {
      s.run();
      continue;
    }
    fan_out(self, s.msgs, s.shares.get(), s.events);
    if (s.reply)
      when_stored(self, [rp = std::move(s.rp)]() mutable { rp.deliver(true); });
  }
}

/// Forgets the value and the retained message (topics/remove, or the
/// removal policy) and retires after `idle_ms` unused; true if it had
/// either.
template <class Self>
bool forget_value(Self* self, uint32_t idle_ms) {
  auto& st = self->state;
  bool had = st.last || st.current;
  auto before = stored_now(st);
  st.last = update{};
  st.basis = delta_basis{};
  clear_retained(st);
  forget_events(self);
  st.series.reset();
  st.removed = true;
  st.idle_ms = idle_ms;
  store_changes(self, before);
  note_value(self);
  arm_gc(self);
  return had;
}

/// What the removal policy does when due: as topics/remove, the
/// specification the API added (if still this one), the value and the
/// retained message are forgotten.
template <class Self>
auto removal_action(Self* self) {
  return [self] {
    auto& st = self->state;
    if (st.mapping && st.spec && st.mapping->added(st.name) == st.spec)
      st.mapping->remove(st.name);
    forget_value(self, st.removal.idle_ms);
    CASTOR_LOG(debug, "topic " << st.name,
               "removed by its policy (" << st.spec->removal->to_string()
                                         << ")");
  };
}

/// The specification, looked up again if the mapping changed, and its
/// removal policy followed.
template <class Self>
void follow_removal(Self* self) {
  value_kept(self->state);
  removal_follow(self, removal_action(self));
}

/// Numbers the publishes as updates, keeps the current value, and sends
/// every subscriber the updates that have not expired: plain subscribers
/// share one list, each share group's members take turns (of the messages
/// `shares` gives them, if not null). With `events`, `msgs` are the events
/// a time series' owner made (in a node group), kept as it numbered them.
template <class Self>
kept begin_fan_out(Self* self) {
  auto& st = self->state;
  st.removed = false;
  auto keep = value_kept(st);
  if (st.spec.get() != st.removal.spec)
    removal_follow(self, removal_action(self));
  removal_updated(self, removal_action(self));
  return keep;
}

template <class Self>
void fan_out(Self* self, const std::vector<mqtt::message_ptr>& msgs,
             const share_filter* shares, bool events) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  bool cleared = false;
  auto before = stored_now(st);
  auto keep = begin_fan_out(self);
  bool conflate = conflates(st);
  bool tidy = st.spec && st.spec->tidy_on_unsubscribe;
  std::vector<update> ups;
  ups.reserve(msgs.size());
  // Which message each update comes from, for `shares`.
  std::vector<uint32_t> from;
  auto* fromp = shares ? &from : nullptr;
  if (auto ts = series_of(st)) {
    if (events)
      series_take(st, *ts, msgs, ups, conflate, fromp);
    else
      series_publish(st, *ts, msgs, ups, conflate, fromp);
    for (auto& u : ups)
      u.tidy = tidy;
    store_events(self, ups);
    deliver_updates(self, std::move(ups), shares, fromp);
    store_changes(self, before);
    return;
  }
  for (uint32_t i = 0; i < msgs.size(); ++i) {
    auto& m = msgs[i];
    update u{++st.seq, value_type::binary, m, nullptr, 0, conflate, tidy};
    if (u.clears_value()) {
      cleared = cleared || static_cast<bool>(st.current);
      clear_retained(st);
    } else if (u.keeps_value()) {
      keep_retained(st, u);
    }
    if (!u.expired(now)) {
      if (keep == kept::with_deltas && st.delta_entries > 0)
        add_delta(st, u);
      if (keep != kept::nothing)
        st.last = u;
      ups.emplace_back(std::move(u));
      if (fromp)
        from.push_back(i);
    }
  }
  if (cleared && !st.current)
    arm_gc(self);
  deliver_updates(self, std::move(ups), shares, fromp);
  store_changes(self, before);
}

/// Sends every subscriber `ups`: plain subscribers share one list, each
/// share group's members take turns. In a node group, `shares` (with
/// `from`) says which updates the share groups get, and whether the plain
/// subscribers get any.
template <class Self>
void deliver_updates(Self* self, std::vector<update>&& ups,
                     const share_filter* shares,
                     const std::vector<uint32_t>* from) {
  auto& st = self->state;
  note_value(self);
  if (ups.empty())
    return;
  for (auto& [key, g] : st.groups) {
    if (g.members.empty())
      continue;
    if (shares)
      share_picked(self, key, g, ups, *shares, *from);
    else
      share_out(self, g, ups);
  }
  if (st.subs.empty() || (shares && !shares->plain))
    return;
  auto bytes = footprint_of(ups);
  auto items = std::make_shared<const std::vector<update>>(std::move(ups));
  for (auto& [session, sub] : st.subs)
    deliver(self, session,
            update_batch{items, sub.options, false, bytes,
                         store_deliveries(self, sub.durable, *items,
                                          *sub.options, false)});
  if (!st.behind.empty())
    cut_behind(self);
}

/// Fans `msgs` out now, or stashes them while a session blocks the topic;
/// `rp` (if any) is answered once they are fanned out (and, with `acks`,
/// once the nodes they went to have taken them). `shares` (if any) says
/// what the share groups get; `events` as for fan_out.
template <class Self>
void fan_out_or_stash(Self* self, std::vector<mqtt::message_ptr>&& msgs,
                      caf::response_promise* rp, share_filter_ptr shares,
                      std::shared_ptr<forward_acks> acks, bool events = false) {
  auto& st = self->state;
  if (acks) {
    auto local = [self, msgs = std::move(msgs), acks, shares] {
      fan_out(self, msgs, shares.get());
      when_stored(self, [acks] { acks->done(); });
    };
    if (!st.stash.empty() || held_back(st)) {
      topic_state::stashed s;
      s.run = std::move(local);
      st.stash.push_back(std::move(s));
    } else {
      local();
    }
    return;
  }
  if (!st.stash.empty() || held_back(st)) {
    topic_state::stashed s;
    s.msgs = std::move(msgs);
    s.rp = rp ? *rp : caf::response_promise{};
    s.reply = rp != nullptr;
    s.shares = std::move(shares);
    s.events = events;
    st.stash.push_back(std::move(s));
    return;
  }
  fan_out(self, msgs, shares.get(), events);
  if (rp)
    when_stored(self, [rp = *rp]() mutable { rp.deliver(true); });
}

/// Runs `run` now, or when its turn comes (after what waits in the stash,
/// while a session blocks the topic).
template <class Self>
void in_turn(Self* self, std::function<void()> run) {
  auto& st = self->state;
  if (!st.stash.empty() || held_back(st)) {
    topic_state::stashed s;
    s.run = std::move(run);
    st.stash.push_back(std::move(s));
    return;
  }
  run();
}

/// A time series' updates, made here as its owner in a node group (or on
/// its own): delivered here and sent to every member as they were made,
/// so that every member keeps the same events under the same numbers;
/// `finish` (if any) once every member has them.
template <class Self>
void spread_events(Self* self, std::vector<update>&& ups,
                   std::function<void()> finish) {
  auto& st = self->state;
  for (auto& u : ups)
    u.tidy = st.spec && st.spec->tidy_on_unsubscribe;
  forward_result fw;
  std::vector<uint32_t> from(ups.size());
  if (st.routes && !ups.empty()) {
    std::vector<mqtt::message_ptr> made;
    made.reserve(ups.size());
    for (uint32_t i = 0; i < ups.size(); ++i) {
      made.push_back(ups[i].msg);
      from[i] = i;
    }
    fw = forward_publishes(self, made, finish, true, true);
  }
  store_events(self, ups);
  deliver_updates(self, std::move(ups), fw.shares.get(), &from);
  if (fw.acks)
    when_stored(self, [acks = fw.acks] { acks->done(); });
  else if (finish)
    when_stored(self, finish);
}

/// A time series' batch, taken here as its owner: its events are made
/// here (when its turn comes) and spread.
template <class Self>
void take_series_as_owner(Self* self, std::vector<mqtt::message_ptr>&& msgs,
                          std::function<void()> finish) {
  auto run = [self, msgs = std::move(msgs), finish = std::move(finish)] {
    auto& st = self->state;
    begin_fan_out(self);
    std::vector<update> ups;
    if (auto ts = series_of(st))
      series_publish(st, *ts, msgs, ups, conflates(st));
    spread_events(self, std::move(ups), finish);
  };
  in_turn(self, std::move(run));
}

/// A typed topic's batch, taken here as its owner: sent to every member
/// and fanned out here, in the order the owner takes them; `finish` (if
/// any) once every member has fanned it out.
template <class Self>
void take_as_owner(Self* self, std::vector<mqtt::message_ptr>&& msgs,
                   std::function<void()> finish) {
  auto& st = self->state;
  if (series_of(st))
    return take_series_as_owner(self, std::move(msgs), std::move(finish));
  auto fw = forward_publishes(self, msgs, finish, true);
  if (fw.acks) {
    fan_out_or_stash(self, std::move(msgs), nullptr, std::move(fw.shares),
                     std::move(fw.acks));
    return;
  }
  // Nothing to wait for elsewhere: answered once fanned out here.
  if (!st.stash.empty() || held_back(st)) {
    topic_state::stashed s;
    s.run = [self, msgs = std::move(msgs), shares = std::move(fw.shares),
             finish = std::move(finish)] {
      fan_out(self, msgs, shares.get());
      if (finish)
        when_stored(self, finish);
    };
    st.stash.push_back(std::move(s));
    return;
  }
  fan_out(self, msgs, fw.shares.get());
  if (finish)
    when_stored(self, finish);
}

/// Takes a batch: from a connection of this node (in a node group, it goes
/// to the nodes that want it too, and `rp` waits for them; a typed topic's
/// goes to its owner, which sends it to every member), or forwarded by
/// another node (`remote`: for this node's subscribers only, and its share
/// groups get what the publishing node picked for them).
template <class Self>
void take_publishes(Self* self, publish_batch&& b, caf::response_promise* rp) {
  auto& st = self->state;
  st.published += b.msgs.size();
  if (st.routes && !b.remote) {
    value_kept(st); // the specification, up to date
    if (owner_ordered(st)) {
      if (auto owner = b.owned ? caf::actor{} : owner_router(self)) {
        relay_to_owner(self, owner, std::move(b.msgs), answer_true(rp),
                       [self](std::vector<mqtt::message_ptr>&& msgs,
                              std::function<void()> finish) {
                         take_as_owner(self, std::move(msgs),
                                       std::move(finish));
                       });
        return;
      }
      take_as_owner(self, std::move(b.msgs), answer_true(rp));
      return;
    }
  }
  if (b.remote) {
    auto shares = std::make_shared<share_filter>();
    shares->picks = std::move(b.picks);
    shares->exclusive = true;
    shares->plain = !b.shares_only;
    fan_out_or_stash(self, std::move(b.msgs), rp, std::move(shares), nullptr,
                     b.events);
    return;
  }
  if (st.routes) {
    auto fw = forward_publishes(self, b.msgs, answer_true(rp));
    fan_out_or_stash(self, std::move(b.msgs), rp, std::move(fw.shares),
                     std::move(fw.acks));
    return;
  }
  fan_out_or_stash(self, std::move(b.msgs), rp, nullptr, nullptr);
}

/// In a node group, hands `req` (a typed topic's conditional update, or a
/// series' append or edit) to the topic's owner when that is another node,
/// and answers `rp` with what the owner says; false if it did not. Should
/// the owner not answer (it has gone, or hangs), `here` takes `req` on this
/// node, as the owner would.
template <class Self, class Request, class Answer, class Here>
bool to_owner(Self* self, Request& req, caf::typed_response_promise<Answer> rp,
              Here here) {
  auto& st = self->state;
  if (!st.routes)
    return false;
  value_kept(st); // the specification, up to date
  caf::actor owner;
  if (!owner_ordered(st) || !(owner = owner_router(self)))
    return false;
  auto copy = req;
  self->request(owner, cluster_forward_timeout, cl_owner_atom::value,
                std::move(req))
      .then([rp](Answer& a) mutable { rp.deliver(std::move(a)); },
            [self, rp, copy, here](caf::error&) mutable {
              self->state.routes->forwards_failed.fetch_add(
                  1, std::memory_order_relaxed);
              here(std::move(copy), rp);
            });
  return true;
}

/// Decides a conditional update when its turn comes (after what waits in
/// the stash), against the value at that moment, and answers `rp`. In a
/// node group, a typed topic's owner decides (`owned`: this node, as the
/// owner), and the update goes to every member.
template <class Self>
void take_conditional(Self* self, conditional_update&& cu,
                      caf::typed_response_promise<update_outcome> rp,
                      bool owned = false) {
  if (!owned && to_owner(self, cu, rp, [self](auto&& cu, auto rp) {
        take_conditional(self, std::move(cu), rp, true);
      }))
    return;
  auto run = [self, cu = std::move(cu), rp]() mutable {
    auto& st = self->state;
    value_kept(st); // the specification, up to date
    const mqtt::message* last = nullptr;
    if (st.last && !st.last.expired(std::chrono::steady_clock::now()))
      last = st.last.msg.get();
    bool added = st.mapping && st.mapping->added(st.name) != nullptr;
    bool exists = (st.seq > 0 && !st.removed) || added;
    auto r = resolve_update(cu, last, exists, st.spec.get());
    if (auto m = std::get_if<mqtt::message_ptr>(&r)) {
      ++st.published;
      std::vector<mqtt::message_ptr> msgs{std::move(*m)};
      if (!st.routes) {
        fan_out(self, msgs);
        when_stored(self, [rp]() mutable { rp.deliver(update_outcome{}); });
        return;
      }
      // To the other members too; answered once they have it (a typed
      // topic's go to every member, as its owner sends them).
      auto fw = forward_publishes(
          self, msgs, [rp]() mutable { rp.deliver(update_outcome{}); },
          owner_ordered(st));
      fan_out(self, msgs, fw.shares.get());
      if (fw.acks)
        when_stored(self, [acks = fw.acks] { acks->done(); });
      else
        when_stored(self, [rp]() mutable { rp.deliver(update_outcome{}); });
      return;
    }
    rp.deliver(std::get<update_outcome>(std::move(r)));
  };
  in_turn(self, std::move(run));
}

/// A time series operation of the API: a range query at once; an append
/// or edit when its turn comes (after what waits in the stash). In a node
/// group, the series' owner makes appends and edits (`owned`: this node,
/// as the owner) and spreads them to every member.
template <class Self>
void take_series(Self* self, series_request&& r,
                 caf::typed_response_promise<series_answer> rp,
                 bool owned = false) {
  auto& st = self->state;
  auto not_series = [self] {
    series_answer a;
    a.code = "NOT_TIME_SERIES";
    a.message = "'" + self->state.name + "' is not a time_series topic";
    return a;
  };
  if (r.op == series_request::range) {
    value_kept(st);
    auto ts = series_of(st);
    rp.deliver(ts ? series_range(*ts, r) : not_series());
    return;
  }
  if (!owned && to_owner(self, r, rp, [self](auto&& r, auto rp) {
        take_series(self, std::move(r), rp, true);
      }))
    return;
  auto run = [self, r = std::move(r), rp, not_series]() mutable {
    auto& st = self->state;
    value_kept(st);
    auto ts = series_of(st);
    if (!ts) {
      rp.deliver(not_series());
      return;
    }
    std::vector<update> ups;
    auto a = series_change(st, *ts, r, ups, conflates(st));
    if (ups.empty()) {
      rp.deliver(std::move(a));
      return;
    }
    ++st.published;
    begin_fan_out(self);
    spread_events(self, std::move(ups),
                  [rp, a = std::move(a)]() mutable { rp.deliver(a); });
  };
  in_turn(self, std::move(run));
}

} // namespace

template <class Self>
caf::behavior topic_actor_impl(Self* self, std::string name,
                               mapping_ptr mapping) {
  self->state.name = std::move(name);
  self->state.mapping = std::move(mapping);
  if (self->state.mapping && !self->state.mapping->empty())
    follow_removal(self); // a mapping rule's policy
  return implement<topic_interface>(
      [=](publish_atom, publish_batch& batch) -> caf::result<bool> {
        auto rp = self->make_response_promise();
        take_publishes(self, std::move(batch), &rp);
        return rp;
      },
      [=](push_atom, publish_batch& batch) {
        // QoS 0 from a connection that does not wait for an answer.
        take_publishes(self, std::move(batch), nullptr);
      },
      [=](publish_atom, mqtt::message_ptr& m) {
        publish_batch b;
        b.msgs.push_back(std::move(m));
        take_publishes(self, std::move(b), nullptr);
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
        removal_subscriptions(self, removal_action(self));
        retained_batch result;
        auto& st = self->state;
        value_kept(st);
        if (auto series = series_of(st)) {
          // The events of the subscription range (no MQTT retained
          // message: the series is the topic's state).
          if (ts.group.empty())
            result.items = series_first(st, *series);
          return result;
        }
        if (ts.options.delta && ts.group.empty()) {
          // The topic's value (its last update) comes first.
          if (st.last && !st.last.expired(std::chrono::steady_clock::now()))
            result.items.push_back(st.last);
          return result;
        }
        if (!st.current)
          return result;
        if (st.current.expired(std::chrono::steady_clock::now())) {
          clear_retained(st);
          return result;
        }
        result.items.push_back(st.current);
        return result;
      },
      [=](attach_atom, topic_subscription& ts) {
        add_subscription(self, ts);
        removal_subscriptions(self, removal_action(self));
      },
      [=](unsub_atom, const caf::actor& session, const std::string& filter,
          const std::string& group) -> bool {
        if (remove_subscription(self, session, filter, group)) {
          // The share group or the session's last subscription went.
          drain_stash(self);
          arm_gc(self);
          removal_subscriptions(self, removal_action(self));
        }
        return true;
      },
      [=](gc_config_atom, uint32_t idle_ms) {
        auto& st = self->state;
        st.tree = caf::actor_cast<topic_tree_interface>(self->current_sender());
        st.idle_ms = idle_ms;
        st.removal.idle_ms = idle_ms;
        arm_gc(self);
      },
      [=](gc_check_atom, uint64_t mark) {
        auto& st = self->state;
        st.gc_armed = false;
        if (st.idle_ms == 0)
          return; // kept since (added through the API)
        if (!st.collectable() || !st.tree)
          return;
        if (st.published != mark) {
          arm_gc(self); // used meanwhile: wait another period
          return;
        }
        st.published_at_ask = st.published;
        self->send(st.tree, retire_atom::value, st.name);
      },
      [=](cl_sync_atom) -> publish_batch {
        // For a member that joins: the retained message, or a series'
        // events.
        auto& st = self->state;
        value_kept(st);
        publish_batch b;
        if (auto ts = series_of(st))
          b.msgs = series_sync(st, *ts);
        else if (st.current
                 && !st.current.expired(std::chrono::steady_clock::now()))
          b.msgs.push_back(st.current.msg);
        return b;
      },
      [=](cl_sync_atom, mqtt::message_ptr& m) {
        // Another member's retained message: this node's own stays. A
        // series keeps its events newer than its own.
        auto& st = self->state;
        value_kept(st);
        if (auto ts = m ? series_of(st) : nullptr) {
          std::vector<update> ups;
          series_take(st, *ts, {m}, ups, false);
          store_events(self, ups);
          return;
        }
        if (!m || !m->retain || m->payload.empty() || st.current)
          return;
        publish_batch b;
        b.msgs.push_back(std::move(m));
        b.remote = true; // for plain subscribers here, not share groups
        take_publishes(self, std::move(b), nullptr);
      },
      [=](cl_values_atom) {
        // Its value to every member, if it is a typed topic this node owns
        // (not a series: a series' events are synced as events). Sent by
        // this actor, on the way its updates take to the members, so that
        // it never reaches a member after a newer update.
        auto& st = self->state;
        value_kept(st);
        if (!owner_ordered(st) || series_of(st) || owner_router(self)
            || !st.last || st.last.expired(std::chrono::steady_clock::now()))
          return;
        publish_batch b;
        b.msgs.push_back(st.last.msg);
        for (auto& r : st.routes->routers())
          self->send(r, cl_values_atom::value, b);
      },
      [=](cl_values_atom, mqtt::message_ptr& m, const caf::node_id& from) {
        // Its owner's value: taken as an update from the owner when it
        // differs (the sides of a healed partition held two values).
        auto& st = self->state;
        value_kept(st);
        if (!m || !owner_ordered(st) || series_of(st))
          return;
        auto owner = owner_router(self);
        if (!owner || owner.node() != from)
          return;
        if (st.last && st.last.msg && st.last.msg->payload == m->payload)
          return;
        publish_batch b;
        b.msgs.push_back(std::move(m));
        b.remote = true; // for this node's subscribers, as the owner's are
        take_publishes(self, std::move(b), nullptr);
      },
      [=](fetch_atom) -> mqtt::message_ptr {
        auto& st = self->state;
        if (st.last && st.last.expired(std::chrono::steady_clock::now())) {
          st.last = update{};
          note_value(self);
        }
        return st.last.msg;
      },
      [=](restore_atom, mqtt::message_ptr& retained, mqtt::message_ptr& value,
          publish_batch& events) {
        // What the store kept before the restart (before any publish).
        restore_values(self, retained, value, events.msgs);
        note_value(self);
      },
      [=](keep_atom) {
        self->state.idle_ms = 0; // a pending idle check finds it kept
      },
      [=](update_atom, conditional_update& cu) -> caf::result<update_outcome> {
        auto rp = self->template make_response_promise<update_outcome>();
        take_conditional(self, std::move(cu), rp);
        return rp;
      },
      [=](cl_owner_atom,
          conditional_update& cu) -> caf::result<update_outcome> {
        // Another member's, for this node to decide as the owner.
        auto rp = self->template make_response_promise<update_outcome>();
        take_conditional(self, std::move(cu), rp, true);
        return rp;
      },
      [=](series_atom, series_request& r) -> caf::result<series_answer> {
        auto rp = self->template make_response_promise<series_answer>();
        take_series(self, std::move(r), rp);
        return rp;
      },
      [=](cl_owner_atom, series_request& r) -> caf::result<series_answer> {
        // Another member's append or edit, for this node to make as the
        // owner.
        auto rp = self->template make_response_promise<series_answer>();
        take_series(self, std::move(r), rp, true);
        return rp;
      },
      [=](remove_atom, uint32_t idle_ms) -> bool {
        bool had = forget_value(self, idle_ms);
        CASTOR_LOG(debug, "topic " << self->state.name,
                   "removed through the API");
        return had;
      },
      [=](removal_check_atom, uint64_t epoch) {
        follow_removal(self);
        removal_timer(self, epoch, removal_action(self));
      },
      [=](adder_atom, const caf::actor& adder) {
        follow_removal(self);
        removal_adder(self, adder, removal_action(self));
      },
      [=](retire_atom) -> bool {
        // The tree no longer hands this topic out while it waits for the
        // answer; anything sent before reached us first.
        auto& st = self->state;
        if (st.idle_ms == 0 || !st.collectable()
            || st.published != st.published_at_ask) {
          arm_gc(self);
          return false;
        }
        CASTOR_LOG(debug, "topic " << st.name, "retiring (idle)");
        auto before = stored_now(st);
        st.last = update{};
        store_changes(self, before);
        note_value(self);
        self->quit();
        return true;
      },
      [=](redeliver_atom, const std::string& group, const std::string& filter,
          share_redelivery& batch) {
        // Updates a leaving share member did not get acknowledged: give them
        // to the remaining members of its group.
        auto& st = self->state;
        auto i = st.groups.find(group_key(group, filter));
        if (i == st.groups.end() || i->second.members.empty())
          return;
        share_out(self, i->second, batch.items);
      });
}

caf::behavior topic_actor(topic_actor_type* self, std::string name,
                          mapping_ptr mapping) {
  return census(self, metrics::actor_kind::topic,
                topic_actor_impl(self, std::move(name), std::move(mapping)));
}

caf::behavior topic_broker(topic_broker_type* self, std::string name,
                           caf::actor timers, mapping_ptr mapping) {
  self->state.timers = std::move(timers);
  return census(self, metrics::actor_kind::topic,
                topic_actor_impl(self, std::move(name), std::move(mapping)));
}

} // namespace castor
