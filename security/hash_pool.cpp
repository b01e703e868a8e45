#include "security/hash_pool.hpp"

#include <utility>

#include <pthread.h>
#include <sched.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace castor::security {

hash_pool::hash_pool(options opts) : opts_(opts) {
  threads_.reserve(opts_.threads);
  for (size_t i = 0; i < opts_.threads; ++i)
    threads_.emplace_back([this] { run(); });
}

hash_pool::~hash_pool() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    queues_.clear();
    turns_.clear();
    waiting_ = 0;
  }
  cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

bool hash_pool::submit(const std::string& key, std::function<void()> job) {
  if (threads_.empty()) {
    job();
    return true;
  }
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (stopping_ || waiting_ >= opts_.max_waiting)
      return false;
    auto& q = queues_[key];
    if (q.empty())
      turns_.push_back(key);
    q.push_back(std::move(job));
    ++waiting_;
  }
  cv_.notify_one();
  return true;
}

size_t hash_pool::waiting() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return waiting_;
}

size_t hash_pool::default_threads(size_t cores) {
  return cores >= 8 ? cores / 4 : 1;
}

namespace {

/// Lowers the calling thread's priority (Linux; elsewhere nothing).
void lower_priority(hash_pool::priority prio) {
#ifdef __linux__
  switch (prio) {
  case hash_pool::priority::idle: {
    sched_param sp{};
    sp.sched_priority = 0;
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) == 0)
      return;
    [[fallthrough]]; // not permitted: at least a higher nice value
  }
  case hash_pool::priority::low: {
    // Per thread on Linux: the other threads keep theirs. Raising the
    // nice value needs no privilege.
    auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    ::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + 10);
    return;
  }
  case hash_pool::priority::normal:
    return;
  }
#else
  (void)prio;
#endif
}

} // namespace

void hash_pool::run() {
  lower_priority(opts_.prio);
  std::unique_lock<std::mutex> lock{mtx_};
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !turns_.empty(); });
    if (stopping_)
      return;
    // The key whose turn it is gives one job and goes to the back of the
    // line if it has more.
    auto key = std::move(turns_.front());
    turns_.pop_front();
    auto i = queues_.find(key);
    auto job = std::move(i->second.front());
    i->second.pop_front();
    if (i->second.empty())
      queues_.erase(i);
    else
      turns_.push_back(std::move(key));
    --waiting_;
    lock.unlock();
    job();
    job = nullptr; // release what it holds before taking the lock again
    lock.lock();
  }
}

} // namespace castor::security
