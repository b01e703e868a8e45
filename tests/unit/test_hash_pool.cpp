// security::hash_pool: jobs run on the pool's threads, addresses take turns,
// and beyond the bound submit refuses at once.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "security/hash_pool.hpp"

using namespace castor::security;

TEST_CASE("hash pool: runs jobs on its own threads") {
  hash_pool::options opts;
  opts.threads = 2;
  hash_pool pool{opts};
  std::mutex mtx;
  std::condition_variable cv;
  int done = 0;
  std::vector<std::thread::id> ids;
  for (int i = 0; i < 10; ++i)
    CHECK(pool.submit("a", [&] {
      std::lock_guard<std::mutex> guard{mtx};
      ids.push_back(std::this_thread::get_id());
      ++done;
      cv.notify_all();
    }));
  std::unique_lock<std::mutex> lock{mtx};
  CHECK(
      cv.wait_for(lock, std::chrono::seconds{10}, [&] { return done == 10; }));
  bool all_elsewhere = true;
  for (auto id : ids)
    all_elsewhere = all_elsewhere && id != std::this_thread::get_id();
  CHECK(all_elsewhere);
}

TEST_CASE("hash pool: addresses take turns, and the queue is bounded") {
  hash_pool::options opts;
  opts.threads = 1;
  opts.max_waiting = 6;
  opts.prio = hash_pool::priority::normal;
  hash_pool pool{opts};
  // Hold the only thread so that the next jobs wait.
  std::mutex gate;
  std::unique_lock<std::mutex> hold{gate};
  std::atomic<bool> started{false};
  REQUIRE(pool.submit("x", [&] {
    started = true;
    std::lock_guard<std::mutex> wait_for_release{gate};
  }));
  while (!started)
    std::this_thread::yield();
  std::mutex mtx;
  std::vector<std::string> order;
  auto job = [&](std::string name) {
    return [&, name] {
      std::lock_guard<std::mutex> guard{mtx};
      order.push_back(name);
    };
  };
  // A burst from one address, then one login from another.
  CHECK(pool.submit("attacker", job("a1")));
  CHECK(pool.submit("attacker", job("a2")));
  CHECK(pool.submit("attacker", job("a3")));
  CHECK(pool.submit("attacker", job("a4")));
  CHECK(pool.submit("other", job("o1")));
  CHECK(pool.submit("other", job("o2")));
  CHECK(pool.waiting() == 6);
  CHECK_FALSE(pool.submit("late", job("late")));
  hold.unlock();
  for (int i = 0; i < 1000 && pool.waiting() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  std::this_thread::sleep_for(std::chrono::milliseconds{20});
  std::lock_guard<std::mutex> guard{mtx};
  CHECK(order == std::vector<std::string>{"a1", "o1", "a2", "o2", "a3", "a4"});
}

TEST_CASE("hash pool: without threads jobs run in submit") {
  hash_pool::options opts;
  opts.threads = 0;
  hash_pool pool{opts};
  bool ran = false;
  CHECK(pool.submit("a", [&] { ran = true; }));
  CHECK(ran);
  CHECK(hash_pool::default_threads(2) == 1);
  CHECK(hash_pool::default_threads(16) == 4);
}

namespace {

/// Sets a flag when it goes (the last reference to the pool goes with it).
struct on_release {
  std::atomic<bool>* flag = nullptr;
  ~on_release() {
    flag->store(true);
  }
};

} // namespace

TEST_CASE("hash pool: a job may hold the pool's last reference") {
  // The authenticator's job holds its actor, which holds the pool: when the
  // actor has ended meanwhile, the pool goes on its own thread, which must
  // not wait for itself (std::terminate: "Resource deadlock avoided").
  std::atomic<bool> released{false};
  std::atomic<bool> ran{false};
  {
    hash_pool::options opts;
    opts.threads = 1;
    auto pool = std::make_shared<hash_pool>(opts);
    auto gate = std::make_shared<std::mutex>();
    gate->lock();
    auto mark = std::make_shared<on_release>();
    mark->flag = &released;
    CHECK(pool->submit("a", [gate, &ran, p = pool, mark]() mutable {
      std::lock_guard<std::mutex> guard{*gate};
      ran = true;
    }));
    mark.reset();
    pool.reset(); // the job holds the last reference now
    gate->unlock();
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
  while (!released && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  CHECK(ran);
  CHECK(released);
  // The detached thread ends on its own.
  std::this_thread::sleep_for(std::chrono::milliseconds{20});
}
