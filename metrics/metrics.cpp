#include "metrics/metrics.hpp"

#include <cstddef>
#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <type_traits>

#include <sys/syscall.h>
#include <unistd.h>

namespace castor::metrics {

namespace {

static_assert(std::is_standard_layout_v<block>,
              "the scrape reads a block as an array of slots");
constexpr size_t slots = offsetof(block, tid) / sizeof(slot);

struct registry {
  std::mutex mtx;
  std::map<std::pair<std::string, std::string>, uint64_t> api;
  /// Blocks live as long as the process: a thread that ends leaves its
  /// counts behind (they are totals), marked as no longer running.
  std::vector<block*> blocks;
};

registry& reg() {
  static auto* r = new registry; // outlives every thread's exit
  return *r;
}

/// Marks the thread's block as ended when the thread exits.
struct thread_guard {
  block* b = nullptr;
  ~thread_guard() {
    if (b)
      b->alive_thread.store(false, std::memory_order_relaxed);
  }
};

block* register_thread() {
  auto* b = new block;
  b->tid = static_cast<int>(::syscall(SYS_gettid));
  auto& r = reg();
  std::lock_guard<std::mutex> guard{r.mtx};
  r.blocks.push_back(b);
  return b;
}

/// The CPU time of thread `tid` of this process (seconds), from
/// /proc/self/task/TID/schedstat (nanoseconds on the CPU first); negative
/// when the thread has gone.
double thread_cpu_seconds(int tid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/self/task/%d/schedstat", tid);
  auto* f = std::fopen(path, "r");
  if (!f)
    return -1;
  unsigned long long ns = 0;
  auto n = std::fscanf(f, "%llu", &ns);
  std::fclose(f);
  return n == 1 ? static_cast<double>(ns) / 1e9 : -1;
}

} // namespace

const char* name(actor_kind k) noexcept {
  switch (k) {
  case actor_kind::connection:
    return "connection";
  case actor_kind::session:
    return "session";
  case actor_kind::topic:
    return "topic";
  case actor_kind::topic_tree:
    return "topic_tree";
  case actor_kind::session_registry:
    return "session_registry";
  case actor_kind::authenticator:
    return "authenticator";
  case actor_kind::locks:
    return "locks";
  case actor_kind::timers:
    return "timers";
  case actor_kind::api_request:
    return "api_request";
  case actor_kind::listener:
    return "listener";
  case actor_kind::http_router:
    return "http_router";
  case actor_kind::rest_worker:
    return "rest_worker";
  case actor_kind::cluster_agent:
    return "cluster_agent";
  case actor_kind::cluster_router:
    return "cluster_router";
  case actor_kind::cluster_claims:
    return "cluster_claims";
  default:
    return "other";
  }
}

const char* name(drop_reason r) noexcept {
  switch (r) {
  case drop_reason::queue_full:
    return "queue_full";
  case drop_reason::expired:
    return "expired";
  case drop_reason::too_large:
    return "too_large";
  case drop_reason::slow_consumer:
    return "slow_consumer";
  case drop_reason::offline_qos0:
    return "offline_qos0";
  case drop_reason::acl:
    return "acl";
  case drop_reason::mapping:
    return "mapping";
  default:
    return "other";
  }
}

const char* name(auth_source s) noexcept {
  switch (s) {
  case auth_source::store:
    return "store";
  case auth_source::certificate:
    return "certificate";
  case auth_source::jwt:
    return "jwt";
  case auth_source::anonymous:
    return "anonymous";
  default:
    return "none";
  }
}

block& local() noexcept {
  static thread_local thread_guard guard;
  if (!guard.b)
    guard.b = register_thread();
  return *guard.b;
}

double latency_bound(size_t k) noexcept {
  return static_cast<double>(uint64_t{1} << k) / 1e6;
}

snapshot gather() {
  snapshot s;
  auto* sum = reinterpret_cast<slot*>(s.total.get());
  auto& r = reg();
  std::vector<std::pair<block*, bool>> blocks;
  {
    std::lock_guard<std::mutex> guard{r.mtx};
    for (auto* b : r.blocks)
      blocks.emplace_back(b, b->alive_thread.load(std::memory_order_relaxed));
  }
  for (auto& [b, running] : blocks) {
    auto* src = reinterpret_cast<const slot*>(b);
    for (size_t i = 0; i < slots; ++i)
      add(sum[i], src[i].load(std::memory_order_relaxed));
    if (!running)
      continue;
    snapshot::thread_time t;
    t.tid = b->tid;
    t.role = b->io.load(std::memory_order_relaxed)       ? "io"
             : b->worker.load(std::memory_order_relaxed) ? "worker"
                                                         : "other";
    t.cpu_seconds = thread_cpu_seconds(b->tid);
    if (t.cpu_seconds >= 0)
      s.threads.push_back(std::move(t));
  }
  // High-waters are the largest of the threads', not their sum.
  for (size_t k = 0; k < actor_kinds; ++k) {
    uint64_t m = 0;
    for (auto& [b, running] : blocks)
      m = std::max(m, b->depth_max[k].load(std::memory_order_relaxed));
    s.total->depth_max[k].store(m, std::memory_order_relaxed);
  }
  return s;
}

void count_api(std::string_view operation, std::string_view answer) {
  // Error answers begin {"error":{"code":"...": their keys are sorted.
  std::string result = "ok";
  constexpr std::string_view error_prefix = "{\"error\":{\"code\":\"";
  if (answer.rfind(error_prefix, 0) == 0) {
    result = "error";
    auto from = error_prefix.size();
    auto to = answer.find('"', from);
    if (to != std::string_view::npos && to - from <= 40)
      result = std::string{answer.substr(from, to - from)};
  }
  // The operation is the client's text: unknown ones count as one, and the
  // table stays bounded whatever clients send.
  std::string op{operation};
  if (result == "UNKNOWN_OPERATION" || result == "NOT_IMPLEMENTED"
      || op.size() > 40)
    op = "unknown";
  auto& r = reg();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto key = std::make_pair(std::move(op), std::move(result));
  if (auto i = r.api.find(key); i != r.api.end())
    ++i->second;
  else if (r.api.size() < 1000)
    r.api.emplace(std::move(key), 1);
  else
    ++r.api[{"other", "other"}];
}

std::vector<std::pair<std::pair<std::string, std::string>, uint64_t>>
api_counts() {
  auto& r = reg();
  std::lock_guard<std::mutex> guard{r.mtx};
  return {r.api.begin(), r.api.end()};
}

void reset_for_tests() {
  auto& r = reg();
  std::lock_guard<std::mutex> guard{r.mtx};
  for (auto* b : r.blocks) {
    auto* xs = reinterpret_cast<slot*>(b);
    for (size_t i = 0; i < slots; ++i)
      xs[i].store(0, std::memory_order_relaxed);
  }
}

} // namespace castor::metrics
