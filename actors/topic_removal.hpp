#pragma once

// A topic's removal policy (the REMOVAL property, docs/platform.md): the
// topic removes itself, as the API's topics/remove does, when its policy
// becomes due. It keeps what the policy asks about (the time of its last
// update, since when fewer than N sessions have subscribed, whether the
// session that added it has closed) and checks the policy on a timer set
// for the earliest moment it could become due, and when a fact it does not
// time changes (a subscription, the session closing). A publish records
// its time only. Part of the topic actor (actors/topic.cpp).

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/system_messages.hpp>

#include "actors/session_directory.hpp"
#include "actors/timers.hpp"
#include "protocol/topic_spec.hpp"

namespace castor {

struct topic_removal {
  /// The specification whose policy this follows (null: the topic has no
  /// removal policy, nothing below is used).
  const topic_specification* spec = nullptr;
  /// Milliseconds since the epoch: the last update (or when the policy
  /// began to apply).
  int64_t last_update = 0;
  /// Removed by its policy, nothing since: no further check until an update.
  bool done = false;
  /// The session (or, without one, the connection) that added the topic
  /// through the API, monitored when the policy asks whether it closed.
  caf::actor adder;
  bool adder_closed = false;
  /// The N of each `subscriptions < N` condition, and since when fewer
  /// than N sessions have subscribed (none while N or more have).
  std::vector<std::pair<uint64_t, std::optional<int64_t>>> below;
  /// The sessions (`no session has`), looked at every `session_poll_ms`
  /// while the policy asks; per filter, since when none it selects has
  /// existed (none while one does).
  std::shared_ptr<const session_directory> directory;
  std::vector<std::pair<std::shared_ptr<const session_filter>,
                        std::optional<int64_t>>>
      absent;
  uint64_t seen_generation = 0;
  bool sessions_seen = false;
  static constexpr int64_t session_poll_ms = 1000;
  /// Distinct subscribing sessions (counted only when `below` is not empty).
  size_t subscribers = 0;
  /// The pending check: its epoch and due time (max: none pending).
  uint64_t epoch = 0;
  int64_t armed_for = std::numeric_limits<int64_t>::max();
  /// What the tree configured as the idle timeout: a removed topic retires
  /// after it, as topics/remove does.
  uint32_t idle_ms = 0;
  /// Times removed by the policy (logged).
  uint64_t removals = 0;

  /// Follows `s` from now on (a new specification, or none): the facts
  /// start afresh. Returns whether `s` has a policy.
  bool follow(const topic_specification* s, int64_t now);
  /// Sets the subscriber count; true if a `below` fact changed.
  bool set_subscribers(size_t n, int64_t now);
  /// Looks at the sessions again if they changed since the last look.
  void poll_sessions(int64_t now);
  /// True when the policy is due now.
  bool due(int64_t now) const;
  /// The earliest time after `now` at which the policy could become due
  /// without another event (max: none, only events can make it due).
  int64_t next_check(int64_t now) const;
  /// Whether the policy asks if the adding session closed.
  bool watches_adder() const;
};

/// Milliseconds since the epoch (the policy's clock).
inline int64_t removal_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace removal_detail {

/// The distinct sessions subscribed to the topic: plain subscribers and
/// share group members.
template <class State>
size_t count_subscribers(const State& st) {
  if (st.groups.empty())
    return st.subs.size();
  std::unordered_set<caf::actor> seen;
  for (auto& [session, sub] : st.subs)
    seen.insert(session);
  for (auto& [key, g] : st.groups)
    for (auto& mb : g.members)
      seen.insert(mb.session);
  return seen.size();
}

/// Arms the check timer for the policy's next possible due time, unless
/// one is pending for that time or earlier.
template <class Self>
void arm(Self* self, int64_t now) {
  auto& r = self->state.removal;
  auto at = r.next_check(now);
  if (at == std::numeric_limits<int64_t>::max() || at >= r.armed_for)
    return;
  r.armed_for = at;
  auto delay = std::max<int64_t>(at - now, 1);
  send_later(self, self->state.timers, std::chrono::milliseconds(delay),
             removal_check_atom::value, ++r.epoch);
}

} // namespace removal_detail

/// Checks the policy now: `remove()` when it is due (the topic forgets its
/// specification, value and retained message), else arms the timer.
template <class Self, class Remove>
void removal_check(Self* self, Remove&& remove) {
  auto& r = self->state.removal;
  if (!r.spec || r.done)
    return;
  auto now = removal_now();
  r.poll_sessions(now);
  if (!r.due(now)) {
    removal_detail::arm(self, now);
    return;
  }
  r.done = true;
  ++r.removals;
  remove();
}

/// The check timer (`epoch`: the one it was armed with; older ones were
/// superseded by an earlier one).
template <class Self, class Remove>
void removal_timer(Self* self, uint64_t epoch, Remove&& remove) {
  auto& r = self->state.removal;
  if (epoch != r.epoch)
    return;
  r.armed_for = std::numeric_limits<int64_t>::max();
  removal_check(self, remove);
}

/// The topic's specification may have changed (looked up again): follow
/// its policy, if it has one, from now on.
template <class Self, class Remove>
void removal_follow(Self* self, Remove&& remove) {
  auto& st = self->state;
  const topic_specification* s = st.spec && st.spec->removal ? st.spec.get()
                                                             : nullptr;
  auto& r = st.removal;
  if (s == r.spec)
    return;
  auto now = removal_now();
  if (r.adder) {
    self->demonitor(r.adder);
    r.adder = caf::actor{};
  }
  if (!r.follow(s, now))
    return;
  if (!r.below.empty())
    r.set_subscribers(removal_detail::count_subscribers(st), now);
  removal_check(self, remove);
}

/// An update: its time is what `no updates for` asks about. A topic its
/// policy removed follows it again from now on.
template <class Self, class Remove>
void removal_updated(Self* self, Remove&& remove) {
  auto& r = self->state.removal;
  if (!r.spec)
    return;
  r.last_update = removal_now();
  if (r.done) {
    r.done = false;
    removal_check(self, remove);
  }
}

/// The subscriptions changed.
template <class Self, class Remove>
void removal_subscriptions(Self* self, Remove&& remove) {
  auto& r = self->state.removal;
  if (!r.spec || r.below.empty())
    return;
  if (r.set_subscribers(removal_detail::count_subscribers(self->state),
                        removal_now()))
    removal_check(self, remove);
}

/// The API added the topic for `adder` (a session or connection): watched
/// if the policy asks whether it closes.
template <class Self, class Remove>
void removal_adder(Self* self, const caf::actor& adder, Remove&& remove) {
  auto& r = self->state.removal;
  if (!r.spec || !r.watches_adder() || !adder)
    return;
  if (r.adder)
    self->demonitor(r.adder);
  r.adder = adder;
  r.adder_closed = false;
  self->monitor(adder);
  self->set_down_handler([self, remove](caf::down_msg& dm) {
    auto& r = self->state.removal;
    if (!r.adder || dm.source != r.adder.address())
      return;
    r.adder = caf::actor{};
    r.adder_closed = true;
    removal_check(self, remove);
  });
}

} // namespace castor
