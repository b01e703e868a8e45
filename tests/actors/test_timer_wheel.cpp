// The timer wheel on CAF's test coordinator (virtual time): ticks come at
// or after their deadline (never before), in deadline order, with the
// epoch each connection asked for; a connection that has gone is skipped.

#define CAF_SUITE castor_timer_wheel

#include "caf/test/dsl.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "caf/all.hpp"

#include "actors/timer_wheel.hpp"
#include "actors/types.hpp"

using namespace caf;
using namespace castor;
using namespace std::chrono_literals;

namespace {

/// (name, epoch) of every tick, in arrival order.
using ticks_ptr = std::shared_ptr<std::vector<std::pair<std::string, uint64_t>>>;

behavior ticking(event_based_actor*, std::string name, ticks_ptr ticks) {
  return {
      [=](tick_atom, uint64_t epoch) { ticks->emplace_back(name, epoch); },
  };
}

struct fixture : test_coordinator_fixture<> {
  ticks_ptr ticks = std::make_shared<std::vector<std::pair<std::string, uint64_t>>>();
  actor wheel;

  fixture() {
    wheel = sys.spawn(timer_wheel_actor, std::chrono::milliseconds{50});
    run();
  }

  ~fixture() {
    anon_send_exit(wheel, exit_reason::user_shutdown);
    run();
  }

  void drain() {
    while (sched.try_run_once()) {
      // nop
    }
  }

  void schedule(const actor& who, uint32_t delay_ms, uint64_t epoch) {
    send_as(who, wheel, schedule_atom::value, delay_ms, epoch);
    drain();
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(timer_wheel_tests, fixture)

CAF_TEST(ticks come in deadline order and never early) {
  auto a = sys.spawn(ticking, "a", ticks);
  auto b = sys.spawn(ticking, "b", ticks);
  schedule(a, 1000, 1);
  schedule(b, 120, 7);
  schedule(a, 130, 2); // an older epoch of `a` is still pending: both come
  advance_time(100ms);
  drain();
  CAF_CHECK(ticks->empty());
  advance_time(50ms); // 150 ms: both short timers (rounded up to 150 ms)
  drain();
  CAF_REQUIRE_EQUAL(ticks->size(), 2u);
  CAF_CHECK_EQUAL((*ticks)[0].first, "b");
  CAF_CHECK_EQUAL((*ticks)[0].second, 7u);
  CAF_CHECK_EQUAL((*ticks)[1].first, "a");
  CAF_CHECK_EQUAL((*ticks)[1].second, 2u);
  advance_time(800ms); // 950 ms
  drain();
  CAF_CHECK_EQUAL(ticks->size(), 2u);
  advance_time(50ms); // 1000 ms
  drain();
  CAF_REQUIRE_EQUAL(ticks->size(), 3u);
  CAF_CHECK_EQUAL((*ticks)[2].first, "a");
  CAF_CHECK_EQUAL((*ticks)[2].second, 1u);
}

CAF_TEST(an earlier deadline rearms the wheel) {
  auto a = sys.spawn(ticking, "a", ticks);
  schedule(a, 60000, 1);
  schedule(a, 200, 2);
  advance_time(200ms);
  drain();
  CAF_REQUIRE_EQUAL(ticks->size(), 1u);
  CAF_CHECK_EQUAL((*ticks)[0].second, 2u);
  advance_time(60s);
  drain();
  CAF_REQUIRE_EQUAL(ticks->size(), 2u);
  CAF_CHECK_EQUAL((*ticks)[1].second, 1u);
}

CAF_TEST(a connection that has gone is skipped) {
  auto a = sys.spawn(ticking, "a", ticks);
  auto b = sys.spawn(ticking, "b", ticks);
  schedule(a, 100, 1);
  schedule(b, 100, 1);
  anon_send_exit(a, exit_reason::kill);
  a = nullptr;
  drain();
  advance_time(100ms);
  drain();
  CAF_REQUIRE_EQUAL(ticks->size(), 1u);
  CAF_CHECK_EQUAL((*ticks)[0].first, "b");
}

CAF_TEST_FIXTURE_SCOPE_END()
