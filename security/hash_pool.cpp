#include "security/hash_pool.hpp"

#include <utility>

#include <pthread.h>
#include <sched.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace castor::security {

hash_pool::hash_pool(options opts) : core_(std::make_shared<core>()) {
  core_->opts = opts;
  threads_.reserve(opts.threads);
  for (size_t i = 0; i < opts.threads; ++i)
    threads_.emplace_back([c = core_] { run(c); });
}

hash_pool::~hash_pool() {
  {
    std::lock_guard<std::mutex> guard{core_->mtx};
    core_->stopping = true;
    core_->queues.clear();
    core_->turns.clear();
    core_->waiting = 0;
  }
  core_->cv.notify_all();
  for (auto& t : threads_) {
    // A job on this very thread released the pool: it cannot wait for
    // itself; it ends on its own once the job returns.
    if (t.get_id() == std::this_thread::get_id())
      t.detach();
    else
      t.join();
  }
}

bool hash_pool::submit(const std::string& key, std::function<void()> job) {
  if (threads_.empty()) {
    job();
    return true;
  }
  {
    std::lock_guard<std::mutex> guard{core_->mtx};
    if (core_->stopping || core_->waiting >= core_->opts.max_waiting)
      return false;
    auto& q = core_->queues[key];
    if (q.empty())
      core_->turns.push_back(key);
    q.push_back(std::move(job));
    ++core_->waiting;
  }
  core_->cv.notify_one();
  return true;
}

size_t hash_pool::waiting() const {
  std::lock_guard<std::mutex> guard{core_->mtx};
  return core_->waiting;
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

void hash_pool::run(const std::shared_ptr<core>& c) {
  lower_priority(c->opts.prio);
  std::unique_lock<std::mutex> lock{c->mtx};
  for (;;) {
    c->cv.wait(lock, [&] { return c->stopping || !c->turns.empty(); });
    if (c->stopping)
      return;
    // The key whose turn it is gives one job and goes to the back of the
    // line if it has more.
    auto key = std::move(c->turns.front());
    c->turns.pop_front();
    auto i = c->queues.find(key);
    auto job = std::move(i->second.front());
    i->second.pop_front();
    if (i->second.empty())
      c->queues.erase(i);
    else
      c->turns.push_back(std::move(key));
    --c->waiting;
    lock.unlock();
    job();
    job = nullptr; // release what it holds before taking the lock again
    lock.lock();
  }
}

} // namespace castor::security
