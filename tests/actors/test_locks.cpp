// The lock actor (actors/locks.hpp): its bounds. A lock has at most
// max_lock_waiters sessions waiting (LOCK_QUEUE_FULL beyond), and the
// next of them is granted when the holder's session ends.

#define CAF_SUITE castor_locks

#include "caf/test/dsl.hpp"

#include <string>

#include "caf/all.hpp"

#include "actors/locks.hpp"

using namespace caf;
using namespace castor;

namespace {

struct fixture : test_coordinator_fixture<> {
  locks_interface locks;

  fixture() {
    locks = spawn_locks(sys);
    run();
  }

  ~fixture() {
    anon_send_exit(locks, exit_reason::user_shutdown);
    run();
  }

  void ask(const std::string& lock, const std::string& session,
           uint64_t wait_ms) {
    self->send(locks, lock_acquire_atom::value, lock, session, actor{}, wait_ms,
               false);
    sched.run(); // messages only: the waits' timers do not fire
  }

  /// The answer to an acquire: (error code, token).
  std::pair<std::string, uint64_t> answer() {
    std::pair<std::string, uint64_t> got{"none", 0};
    if (!self->has_next_message())
      return got; // not answered
    self->receive([&](std::string& code, uint64_t token) {
      got = {code, token};
    });
    return got;
  }
};

} // namespace

CAF_TEST_FIXTURE_SCOPE(locks_tests, fixture)

CAF_TEST(a lock has a bounded queue of waiters) {
  ask("L", "holder", 0);
  auto held = answer();
  CAF_CHECK_EQUAL(held.first, "");
  for (size_t i = 0; i < max_lock_waiters; ++i)
    ask("L", "w" + std::to_string(i), 50000);
  CAF_CHECK(!self->has_next_message()); // all of them wait
  ask("L", "one-more", 50000);
  CAF_CHECK_EQUAL(answer().first, "LOCK_QUEUE_FULL");
  // A session that waits already asks again: it keeps its place.
  ask("L", "w5", 50000);
  CAF_CHECK(!self->has_next_message());
  // The holder's session ends: the first waiter gets the lock.
  self->send(locks, lock_closed_atom::value, std::string{"holder"});
  sched.run();
  auto first = answer();
  CAF_CHECK_EQUAL(first.first, "");
  CAF_CHECK(first.second > held.second);
  CAF_CHECK(!self->has_next_message());
  // Room for one more waiter now.
  ask("L", "one-more", 50000);
  CAF_CHECK(!self->has_next_message());
  // The waits' time runs out: each is answered LOCK_TIMEOUT (w1 to w999,
  // w5 twice, one-more; w0 holds the lock).
  sched.trigger_timeouts();
  sched.run();
  size_t timed_out = 0;
  while (self->has_next_message())
    if (answer().first == "LOCK_TIMEOUT")
      ++timed_out;
  CAF_CHECK_EQUAL(timed_out, max_lock_waiters + 1);
}

CAF_TEST_FIXTURE_SCOPE_END()
