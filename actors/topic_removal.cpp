#include "actors/topic_removal.hpp"

#include <algorithm>

namespace castor {

namespace {

using node = removal_policy::node;
using kind = removal_condition::kind;
constexpr int64_t never = std::numeric_limits<int64_t>::max();

template <class F>
void each_condition(const node& n, F&& f) {
  if (n.what == node::op::condition) {
    f(n.condition);
    return;
  }
  for (auto& p : n.parts)
    each_condition(p, f);
}

} // namespace

bool topic_removal::follow(const topic_specification* s, int64_t now) {
  spec = s;
  last_update = now;
  done = false;
  adder_closed = false;
  below.clear();
  absent.clear();
  sessions_seen = false;
  subscribers = 0;
  if (!s)
    return false;
  each_condition(s->removal->root, [&](const removal_condition& c) {
    if (c.what == kind::no_session_for && c.sessions)
      absent.emplace_back(c.sessions, std::optional<int64_t>{});
    if (c.what != kind::subscriptions_below_for)
      return;
    auto known = std::any_of(below.begin(), below.end(),
                             [&](auto& b) { return b.first == c.number; });
    if (!known)
      below.emplace_back(c.number, std::optional<int64_t>{});
  });
  // Nobody has subscribed yet as far as the policy knows.
  for (auto& [n, since] : below)
    if (n > 0)
      since = now;
  return true;
}

bool topic_removal::set_subscribers(size_t n, int64_t now) {
  subscribers = n;
  bool changed = false;
  for (auto& [limit, since] : below) {
    bool is_below = n < limit;
    if (is_below && !since) {
      since = now;
      changed = true;
    } else if (!is_below && since) {
      since.reset();
      changed = true;
    }
  }
  return changed;
}

void topic_removal::poll_sessions(int64_t now) {
  if (absent.empty() || !directory)
    return;
  auto gen = directory->generation();
  if (sessions_seen && gen == seen_generation)
    return; // nothing changed: the answers stand
  sessions_seen = true;
  seen_generation = gen;
  for (auto& [filter, since] : absent) {
    if (directory->any(*filter))
      since.reset();
    else if (!since)
      since = now;
  }
}

bool topic_removal::due(int64_t now) const {
  if (!spec)
    return false;
  removal_policy::facts f;
  f.now = now;
  f.last_update = last_update;
  f.session_closed = adder_closed;
  f.below_since = [this](uint64_t n) -> std::optional<int64_t> {
    for (auto& [limit, since] : below)
      if (limit == n)
        return since;
    return std::nullopt;
  };
  f.none_since = [this](const session_filter& sf) -> std::optional<int64_t> {
    for (auto& [filter, since] : absent)
      if (filter.get() == &sf)
        return since;
    return std::nullopt;
  };
  return spec->removal->due(f);
}

int64_t topic_removal::next_check(int64_t now) const {
  if (!spec)
    return never;
  // The earliest time a timed condition turns true: any of them may be
  // the one the policy waits for.
  int64_t at = never;
  auto consider = [&](int64_t t) {
    if (t > now)
      at = std::min(at, t);
  };
  each_condition(spec->removal->root, [&](const removal_condition& c) {
    switch (c.what) {
    case kind::no_updates_for:
      consider(last_update + c.period.count());
      break;
    case kind::subscriptions_below_for:
      for (auto& [limit, since] : below)
        if (limit == c.number && since)
          consider(*since + c.period.count());
      break;
    case kind::time_after:
      if (c.number < static_cast<uint64_t>(never))
        consider(static_cast<int64_t>(c.number) + 1);
      break;
    case kind::no_session_for:
      // Sessions are looked at again every poll, and the condition may
      // hold once none has been seen for its period.
      consider(now + std::min<int64_t>(session_poll_ms, c.period.count()));
      for (auto& [filter, since] : absent)
        if (filter == c.sessions && since)
          consider(*since + c.period.count());
      break;
    case kind::session_closes:
      break;
    }
  });
  return at;
}

bool topic_removal::watches_adder() const {
  if (!spec)
    return false;
  bool watches = false;
  each_condition(spec->removal->root, [&](const removal_condition& c) {
    watches = watches || c.what == kind::session_closes;
  });
  return watches;
}

} // namespace castor
