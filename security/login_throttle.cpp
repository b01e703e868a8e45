#include "security/login_throttle.hpp"

#include <algorithm>

namespace castor::security {

namespace {

/// Entries looked at from the least recently used end for one that has no
/// attempt in progress before the oldest is dropped regardless.
constexpr int eviction_scan = 16;

} // namespace

login_throttle::login_throttle(throttle_limits limits) : limits_(limits) {
  if (limits_.max_tracked == 0)
    limits_.max_tracked = 1;
}

bool login_throttle::forgotten(const entry& e, time_point now) const {
  return e.failures > 0 && now - e.last_failure >= limits_.forget_after;
}

void login_throttle::refill(entry& e, time_point now) const {
  if (limits_.address_rate == 0)
    return;
  double cap = limits_.address_rate;
  auto elapsed = std::chrono::duration<double>(now - e.refilled).count();
  if (elapsed > 0)
    e.tokens = std::min(cap, e.tokens + elapsed * cap / 60.0);
  e.refilled = now;
}

void login_throttle::touch(table& t, entry& e) {
  t.order.splice(t.order.begin(), t.order, e.lru);
}

login_throttle::entry* login_throttle::find(table& t, const std::string& key,
                                            time_point now) {
  auto i = t.map.find(key);
  if (i == t.map.end())
    return nullptr;
  auto& e = i->second;
  if (forgotten(e, now))
    e.failures = 0;
  refill(e, now);
  touch(t, e);
  return &e;
}

login_throttle::entry& login_throttle::get(table& t, const std::string& key,
                                           time_point now) {
  if (auto e = find(t, key, now))
    return *e;
  if (t.map.size() >= limits_.max_tracked && !t.order.empty()) {
    // Drop the least recently used key, preferring one without attempts in
    // progress (their end would otherwise find nothing to settle).
    auto victim = std::prev(t.order.end());
    auto candidate = victim;
    for (int n = 0; n < eviction_scan; ++n) {
      if (t.map.at(*candidate).in_progress == 0) {
        victim = candidate;
        break;
      }
      if (candidate == t.order.begin())
        break;
      --candidate;
    }
    t.map.erase(*victim);
    t.order.erase(victim);
  }
  t.order.push_front(key);
  auto& e = t.map[key];
  e.lru = t.order.begin();
  e.tokens = limits_.address_rate;
  e.refilled = now;
  return e;
}

void login_throttle::drop_if_idle(table& t, const std::string& key,
                                  time_point now) {
  auto i = t.map.find(key);
  if (i == t.map.end())
    return;
  auto& e = i->second;
  if (forgotten(e, now))
    e.failures = 0;
  bool full = limits_.address_rate == 0
              || e.tokens >= static_cast<double>(limits_.address_rate);
  if (e.failures == 0 && e.in_progress == 0 && full) {
    t.order.erase(e.lru);
    t.map.erase(i);
  }
}

login_throttle::duration login_throttle::delay_of(uint32_t count,
                                                  uint32_t threshold) const {
  if (count < threshold)
    return duration::zero();
  duration result = limits_.delay;
  duration cap = limits_.max_delay;
  for (auto n = threshold; n < count && result < cap; ++n)
    result *= 2;
  return std::min(result, cap);
}

login_throttle::admission login_throttle::begin(const std::string& address,
                                                const std::string& user,
                                                time_point now) {
  auto& a = get(addresses_, address, now);
  if (limits_.address_rate > 0 && a.tokens < 1.0) {
    admission refused;
    refused.kind = admission::refuse;
    return refused;
  }
  auto d = delay_of(a.failures + a.in_progress, limits_.address_threshold);
  ++a.in_progress;
  if (limits_.address_rate > 0)
    a.tokens -= 1.0;
  if (!user.empty()) {
    auto& u = get(users_, user, now);
    d = std::max(d,
                 delay_of(u.failures + u.in_progress, limits_.user_threshold));
    ++u.in_progress;
  }
  admission result;
  if (d > duration::zero()) {
    result.kind = admission::wait;
    result.delay = d;
  }
  return result;
}

void login_throttle::end(const std::string& address, const std::string& user,
                         outcome how, time_point now) {
  bool failed = how == outcome::failure;
  auto settle = [&](table& t, const std::string& key, bool is_user) {
    auto e = failed ? &get(t, key, now) : find(t, key, now);
    if (e == nullptr)
      return;
    if (e->in_progress > 0)
      --e->in_progress;
    if (failed) {
      ++e->failures;
      e->last_failure = now;
    } else if (is_user) {
      if (how == outcome::success)
        e->failures = 0;
    } else if (limits_.address_rate > 0) {
      e->tokens = std::min(static_cast<double>(limits_.address_rate),
                           e->tokens + 1.0);
    }
    drop_if_idle(t, key, now);
  };
  settle(addresses_, address, false);
  if (!user.empty())
    settle(users_, user, true);
}

uint32_t login_throttle::address_count(const std::string& address) const {
  auto i = addresses_.map.find(address);
  return i == addresses_.map.end() ? 0
                                   : i->second.failures + i->second.in_progress;
}

uint32_t login_throttle::user_count(const std::string& user) const {
  auto i = users_.map.find(user);
  return i == users_.map.end() ? 0 : i->second.failures + i->second.in_progress;
}

} // namespace castor::security
