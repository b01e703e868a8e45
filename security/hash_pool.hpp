#pragma once

// A few threads of their own for password hashing (PBKDF2 costs tens of
// milliseconds per login), so that a storm of logins never runs on the
// threads that carry messages. By default the threads run in Linux's
// SCHED_IDLE class: a thread of the message path that wakes up takes the
// CPU from them at once, so deliveries do not wait for hashing (they get
// the CPU only when the message path leaves some; on a machine saturated
// by messages, logins wait). Jobs wait in one queue per key (the client's
// address) and are taken round robin between keys: one address's burst
// does not hold back the logins of other addresses. At most `max_waiting`
// jobs wait; beyond that `submit` refuses (the caller answers "server
// busy").
//
// With `threads == 0` jobs run inside `submit` (for deterministic tests).

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace castor::security {

class hash_pool {
public:
  /// How the threads compete for the CPU with the rest of the process.
  enum class priority : uint8_t {
    idle,   ///< SCHED_IDLE (Linux): only what the other threads leave
    low,    ///< nice +10
    normal, ///< as the other threads
  };

  struct options {
    size_t threads = 1;
    size_t max_waiting = 256;
    priority prio = priority::low;
  };

  /// Hashing threads for a machine with `cores` cores when none are
  /// configured: a quarter of them, at least one.
  static size_t default_threads(size_t cores);

  explicit hash_pool(options opts);

  /// Stops the threads after the jobs they are running; waiting jobs are
  /// dropped without running.
  ~hash_pool();

  hash_pool(const hash_pool&) = delete;
  hash_pool& operator=(const hash_pool&) = delete;

  /// Queues `job` under `key`; false (and `job` is dropped) when
  /// `max_waiting` jobs wait already.
  bool submit(const std::string& key, std::function<void()> job);

  /// Jobs waiting for a thread.
  size_t waiting() const;

  size_t threads() const noexcept {
    return threads_.size();
  }

private:
  /// What the threads share. Each thread holds it too: the last owner of
  /// the pool may be a job on one of its own threads (the job's actor
  /// reference ends the actor that held the pool), and that thread then
  /// goes on with the state after the pool has gone.
  struct core {
    options opts;
    mutable std::mutex mtx;
    std::condition_variable cv;
    /// Waiting jobs per key, and the keys that have some, in turn order.
    std::unordered_map<std::string, std::deque<std::function<void()>>> queues;
    std::list<std::string> turns;
    size_t waiting = 0;
    bool stopping = false;
  };

  static void run(const std::shared_ptr<core>& c);

  std::shared_ptr<core> core_;
  std::vector<std::thread> threads_;
};

} // namespace castor::security
