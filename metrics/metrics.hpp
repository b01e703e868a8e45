#pragma once

// The server's statistics, kept per thread: every thread that counts gets a
// block of its own (on its first count) and is its block's only writer, so
// a count is a load and a store on a cache line no other core writes: no
// lock, no atomic read-modify-write, no message. The metrics endpoint sums
// the blocks when it is scraped (app/http_metrics.cpp). Gauges are counted
// the same way, as +1 and -1 that may happen on different threads: their
// sum over the blocks is the gauge.
//
// Below every other layer (like log/): protocol/ counts what sessions drop,
// actors/ what connections read and write, app/ what it serves.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace castor::metrics {

/// The kinds of actor the census tells apart.
enum class actor_kind : uint8_t {
  connection,
  session,
  topic,
  topic_tree,
  session_registry,
  authenticator,
  locks,
  timers,
  api_request,
  listener,
  http_router,
  rest_worker,
  cluster_agent,
  cluster_router,
  cluster_claims,
  count_
};
constexpr size_t actor_kinds = static_cast<size_t>(actor_kind::count_);
const char* name(actor_kind k) noexcept;

/// Why a delivery did not reach its subscriber.
enum class drop_reason : uint8_t {
  queue_full,    ///< the session's queue was at its bound
  expired,       ///< the message expiry interval passed while it waited
  too_large,     ///< larger than the client's maximum packet size
  slow_consumer, ///< QoS 0 dropped for a slow consumer (drop_qos0)
  offline_qos0,  ///< QoS 0 for an offline session
  acl,           ///< publish refused: no permission
  mapping,       ///< publish refused: the payload does not fit the topic
  count_
};
constexpr size_t drop_reasons = static_cast<size_t>(drop_reason::count_);
const char* name(drop_reason r) noexcept;

/// Authenticators, for authentication outcomes.
enum class auth_source : uint8_t {
  store,
  certificate,
  jwt,
  anonymous,
  none, ///< no authenticator decided (refused by the chain itself)
  count_
};
constexpr size_t auth_sources = static_cast<size_t>(auth_source::count_);
const char* name(auth_source s) noexcept;

/// Listeners are told apart by their index in the configuration.
constexpr size_t max_listeners = 32;
/// MQTT protocol levels 3, 4 and 5, and 0 before CONNECT.
constexpr size_t protocol_slots = 6;
/// Delivery latency buckets: upper bounds of 2^k microseconds, k = 0..24
/// (1 us .. about 16.8 s), then +Inf.
constexpr size_t latency_buckets = 25;

using slot = std::atomic<uint64_t>;

/// One thread's counts. Only its thread writes it; the scrape reads it.
struct block {
  // -- MQTT ------------------------------------------------------------------
  std::array<slot, 3> messages_in{};  ///< PUBLISH received, by QoS
  std::array<slot, 3> messages_out{}; ///< PUBLISH sent, by QoS
  std::array<slot, 3> payload_in{};   ///< their payload bytes
  std::array<slot, 3> payload_out{};
  slot bytes_in{0};  ///< bytes read from sockets (after TLS/WebSocket)
  slot bytes_out{0}; ///< bytes handed to sockets
  slot connects{0};  ///< CONNECTs accepted
  std::array<slot, 256> refused{};     ///< CONNECTs refused, by reason code
  std::array<slot, 256> disconnects{}; ///< connections ended, by reason code
  std::array<slot, drop_reasons> dropped{};
  slot conflated{0};         ///< queued updates replaced by later ones
  slot deltas_sent{0};       ///< deliveries sent as deltas
  slot delta_bytes_saved{0}; ///< whole value bytes minus delta bytes
  slot flow_halts{0};        ///< reads stopped by flow control
  slot flow_halt_ns{0};      ///< how long they stayed stopped
  slot keep_alive_timeouts{0};
  slot protocol_errors{0};
  /// Gauges: connections by listener and protocol level.
  std::array<std::array<slot, protocol_slots>, max_listeners> connections{};
  slot subscriptions{0};                                ///< gauge
  std::array<std::array<slot, auth_sources>, 2> auth{}; ///< [failed][source]
  std::array<slot, latency_buckets + 1> latency{};      ///< last: +Inf
  slot latency_sum_ns{0};
  // -- actors
  // ------------------------------------------------------------------
  std::array<slot, actor_kinds> alive{};     ///< gauge
  std::array<slot, actor_kinds> processed{}; ///< messages handled
  std::array<slot, actor_kinds> depth{};     ///< gauge: mailbox depth
  std::array<slot, actor_kinds> depth_max{}; ///< this thread's high-water
  slot requests_started{0};
  slot requests_finished{0};
  slot requests_timed_out{0};

  // -- the thread ----------------------------------------------------------
  int tid = 0;
  /// Ran a connection or listener: the I/O (multiplexer) thread.
  std::atomic<bool> io{false};
  /// Ran an actor other than a broker: a scheduler worker.
  std::atomic<bool> worker{false};
  std::atomic<bool> alive_thread{true};
};

/// This thread's block (registered on first use).
block& local() noexcept;

/// Adds `n` (two's complement for a negative gauge change).
inline void add(slot& s, uint64_t n = 1) noexcept {
  s.store(s.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
inline void sub(slot& s, uint64_t n = 1) noexcept {
  s.store(s.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
}
inline void max(slot& s, uint64_t v) noexcept {
  if (v > s.load(std::memory_order_relaxed))
    s.store(v, std::memory_order_relaxed);
}

inline void dropped(drop_reason r, uint64_t n = 1) noexcept {
  add(local().dropped[static_cast<size_t>(r)], n);
}

/// One delivery written `elapsed` after its publish was read.
inline void observe_latency(std::chrono::nanoseconds elapsed) noexcept {
  auto& b = local();
  auto ns = static_cast<uint64_t>(elapsed.count() > 0 ? elapsed.count() : 0);
  auto us = ns / 1000;
  // Bucket k holds latencies up to 2^k us.
  size_t k = us <= 1 ? 0 : 64 - static_cast<size_t>(__builtin_clzll(us - 1));
  add(b.latency[k < latency_buckets ? k : latency_buckets]);
  add(b.latency_sum_ns, ns);
}

/// An owner's share of a gauge (say, a session's subscriptions): copied,
/// moved and destroyed with its owner, so the gauge follows the owners
/// that exist.
template <slot block::*Field>
class gauge_share {
public:
  gauge_share() = default;
  gauge_share(const gauge_share& other) : n_(other.n_) {
    add(local().*Field, n_);
  }
  gauge_share(gauge_share&& other) noexcept : n_(other.n_) {
    other.n_ = 0;
  }
  gauge_share& operator=(const gauge_share& other) {
    set(other.n_);
    return *this;
  }
  gauge_share& operator=(gauge_share&& other) noexcept {
    if (this != &other) {
      set(0);
      n_ = other.n_;
      other.n_ = 0;
    }
    return *this;
  }
  ~gauge_share() {
    if (n_ != 0)
      sub(local().*Field, n_);
  }
  void set(uint64_t n) noexcept {
    if (n > n_)
      add(local().*Field, n - n_);
    else if (n < n_)
      sub(local().*Field, n_ - n);
    n_ = n;
  }

private:
  uint64_t n_ = 0;
};

/// A platform API request answered with `answer` (JSON: {"ok":true,...} or
/// {"ok":false,"error":{"code":...}}), by operation and result. API
/// requests are rare next to publishes (each spawns an actor): these
/// counts are kept under a lock, in a bounded table.
void count_api(std::string_view operation, std::string_view answer);

/// ((operation, result), count) of every API request so far.
std::vector<std::pair<std::pair<std::string, std::string>, uint64_t>>
api_counts();

/// The latency bucket bounds in seconds.
double latency_bound(size_t k) noexcept;

/// Every thread's blocks summed (high-waters: their maximum), and each
/// thread's CPU time.
struct snapshot {
  std::unique_ptr<block> total = std::make_unique<block>();
  struct thread_time {
    std::string role; ///< "io", "worker" or "other"
    int tid = 0;
    double cpu_seconds = 0;
  };
  std::vector<thread_time> threads;

  static uint64_t value(const slot& s) noexcept {
    return s.load(std::memory_order_relaxed);
  }
  static int64_t gauge(const slot& s) noexcept {
    return static_cast<int64_t>(s.load(std::memory_order_relaxed));
  }
};

/// Gathers every block (a short lock on the list of blocks, never taken by
/// a count).
snapshot gather();

/// Forgets the counts of every block (tests).
void reset_for_tests();

} // namespace castor::metrics
