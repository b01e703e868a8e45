// security::login_throttle: the slow-down of password guessing counts
// attempts in progress, is keyed by address and by user name, a success
// clears only its user name's count, and an address over its rate is
// refused at once.

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "security/login_throttle.hpp"

using namespace castor::security;
using namespace std::chrono_literals;
using outcome = login_throttle::outcome;
using admission = login_throttle::admission;

namespace {

throttle_limits limits() {
  throttle_limits l;
  l.user_threshold = 3;
  l.address_threshold = 10;
  l.delay = 100ms;
  l.max_delay = 800ms;
  l.address_rate = 0;
  l.forget_after = 60s;
  return l;
}

const login_throttle::time_point t0{};

} // namespace

TEST_CASE("throttle: attempts in progress count like failures") {
  login_throttle th{limits()};
  // Ten guesses for one user name at once: the fourth waits 100 ms, then
  // each waits twice as long as the one before, up to the maximum.
  std::chrono::milliseconds want[]
      = {0ms, 0ms, 0ms, 100ms, 200ms, 400ms, 800ms, 800ms, 800ms, 800ms};
  for (auto w : want) {
    auto a = th.begin("10.0.0.1", "admin", t0);
    if (w == 0ms) {
      CHECK(a.kind == admission::go);
    } else {
      CHECK(a.kind == admission::wait);
      CHECK(a.delay == w);
    }
  }
  CHECK(th.user_count("admin") == 10);
  // They fail: the count stays, as failures.
  for (int i = 0; i < 10; ++i)
    th.end("10.0.0.1", "admin", outcome::failure, t0 + 1s);
  CHECK(th.user_count("admin") == 10);
  CHECK(th.begin("10.0.0.9", "admin", t0 + 2s).delay == 800ms);
}

TEST_CASE("throttle: keyed by user name and by address") {
  login_throttle th{limits()};
  for (int i = 0; i < 3; ++i) {
    th.begin("10.0.0.1", "admin", t0);
    th.end("10.0.0.1", "admin", outcome::failure, t0);
  }
  // The user name is slowed down from every address ...
  CHECK(th.begin("10.0.0.2", "admin", t0).kind == admission::wait);
  th.end("10.0.0.2", "admin", outcome::failure, t0);
  // ... but another user name from the same address is not (the address
  // has 4 failures, its threshold is 10).
  CHECK(th.begin("10.0.0.1", "reader", t0).kind == admission::go);
  th.end("10.0.0.1", "reader", outcome::failure, t0);
  // Spraying many user names from one address hits the address's key.
  for (int i = 0; i < 6; ++i) {
    th.begin("10.0.0.1", "user" + std::to_string(i), t0);
    th.end("10.0.0.1", "user" + std::to_string(i), outcome::failure, t0);
  }
  CHECK(th.address_count("10.0.0.1") == 10);
  auto a = th.begin("10.0.0.1", "fresh", t0);
  CHECK(a.kind == admission::wait);
  CHECK(a.delay == 100ms);
  // Clients without a user name count under the address only.
  login_throttle anon{limits()};
  for (int i = 0; i < 10; ++i)
    anon.begin("10.0.0.5", "", t0);
  CHECK(anon.tracked_users() == 0);
  CHECK(anon.begin("10.0.0.5", "", t0).kind == admission::wait);
}

TEST_CASE("throttle: a success clears only its own user name") {
  login_throttle th{limits()};
  for (int i = 0; i < 3; ++i) {
    th.begin("10.0.0.1", "admin", t0);
    th.end("10.0.0.1", "admin", outcome::failure, t0);
  }
  // The attacker's own account logs in from the same address.
  th.begin("10.0.0.1", "reader", t0);
  th.end("10.0.0.1", "reader", outcome::success, t0);
  CHECK(th.user_count("admin") == 3);
  CHECK(th.address_count("10.0.0.1") == 3);
  CHECK(th.begin("10.0.0.1", "admin", t0).kind == admission::wait);
  // The admin's own success clears the admin's count.
  th.end("10.0.0.1", "admin", outcome::success, t0);
  CHECK(th.user_count("admin") == 0);
  CHECK(th.begin("10.0.0.1", "admin", t0).kind == admission::go);
  // A neutral end (server busy) neither counts nor clears.
  th.end("10.0.0.1", "admin", outcome::neutral, t0);
  CHECK(th.user_count("admin") == 0);
}

TEST_CASE("throttle: beyond the rate an address is refused at once") {
  auto l = limits();
  l.address_rate = 5; // per minute
  login_throttle th{l};
  for (int i = 0; i < 5; ++i)
    CHECK(th.begin("10.0.0.1", "u" + std::to_string(i), t0).kind
          != admission::refuse);
  // Five undecided attempts have used the budget.
  CHECK(th.begin("10.0.0.1", "another", t0).kind == admission::refuse);
  CHECK(th.begin("10.0.0.2", "another", t0).kind == admission::go);
  // A success gives its share back; a failure keeps it.
  th.end("10.0.0.1", "u0", outcome::success, t0);
  th.end("10.0.0.1", "u1", outcome::failure, t0);
  CHECK(th.begin("10.0.0.1", "u5", t0).kind != admission::refuse);
  CHECK(th.begin("10.0.0.1", "u6", t0).kind == admission::refuse);
  // The budget refills at the rate: one attempt per 12 s.
  CHECK(th.begin("10.0.0.1", "u7", t0 + 11s).kind == admission::refuse);
  CHECK(th.begin("10.0.0.1", "u8", t0 + 13s).kind != admission::refuse);
}

TEST_CASE("throttle: forgets after a quiet period, bounded maps") {
  auto l = limits();
  l.max_tracked = 3;
  login_throttle th{l};
  for (int i = 0; i < 4; ++i) {
    th.begin("10.0.0.1", "admin", t0);
    th.end("10.0.0.1", "admin", outcome::failure, t0);
  }
  CHECK(th.begin("10.0.0.1", "admin", t0 + 59s).kind == admission::wait);
  th.end("10.0.0.1", "admin", outcome::neutral, t0 + 59s);
  // A minute after the last failure nothing is held against it.
  CHECK(th.begin("10.0.0.1", "admin", t0 + 120s).kind == admission::go);
  th.end("10.0.0.1", "admin", outcome::success, t0 + 120s);
  // Keys without failures or attempts are not kept at all.
  CHECK(th.tracked_users() == 0);
  // At most max_tracked keys of a kind: the least recently used goes.
  for (int i = 0; i < 5; ++i) {
    auto user = "u" + std::to_string(i);
    th.begin("10.0.0." + std::to_string(i), user, t0);
    th.end("10.0.0." + std::to_string(i), user, outcome::failure, t0);
  }
  CHECK(th.tracked_users() == 3);
  CHECK(th.tracked_addresses() == 3);
  CHECK(th.user_count("u0") == 0);
  CHECK(th.user_count("u4") == 1);
}
