#pragma once

// Counters shared by the actors of one server (read by a metrics endpoint
// later). Relaxed atomics: they are statistics, not synchronisation.

#include <atomic>
#include <cstdint>

namespace castor {

struct broker_counters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> keep_alive_timeouts{0};
  std::atomic<uint64_t> dropped_too_large{0};
  std::atomic<uint64_t> slow_consumer_episodes{0};
  std::atomic<uint64_t> slow_consumer_disconnects{0};
  /// CONNECTs refused by authentication (0x86, 0x87, 0x8C).
  std::atomic<uint64_t> auth_failures{0};
  /// PUBLISHes refused for lack of permission (every QoS; QoS 0 ones are
  /// dropped silently, so this is where they show).
  std::atomic<uint64_t> publishes_refused{0};

  static void add(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
  }
};

} // namespace castor
