#pragma once

// Counters of rare events shared by the actors of one server (connections,
// logins, refusals), read by the metrics endpoint (app/http_metrics.cpp).
// Relaxed atomics: they are statistics, not synchronisation. What happens
// per message is counted per thread instead (metrics/metrics.hpp).

#include <atomic>
#include <cstdint>

namespace castor {

/// Outcomes of authentication and of session ownership checks.
struct auth_counters {
  /// Logins the authenticator chain let in.
  std::atomic<uint64_t> accepted{0};
  /// Logins the handlers refused (bad credentials, token, anonymous).
  std::atomic<uint64_t> refused{0};
  /// Attempts held back by the failed-login slow-down before being decided.
  std::atomic<uint64_t> delayed{0};
  /// Attempts refused at once: their address is over its failed-login rate
  /// (CONNACK 0x9F).
  std::atomic<uint64_t> refused_rate{0};
  /// Attempts refused at once: too many logins wait for a hashing thread
  /// (CONNACK 0x89).
  std::atomic<uint64_t> refused_busy{0};
  /// Passwords hashed (stand-ins for unknown users included).
  std::atomic<uint64_t> hashes{0};
  /// CONNECTs refused because the client id's session belongs to another
  /// principal.
  std::atomic<uint64_t> foreign_session_refused{0};
  /// Sessions of another principal ended for a newcomer
  /// (security.foreign_session: replace).
  std::atomic<uint64_t> foreign_session_replaced{0};
};

struct broker_counters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  // Messages, bytes and what is dropped are counted per thread, in
  // metrics/metrics.hpp.
  std::atomic<uint64_t> protocol_errors{0};
  std::atomic<uint64_t> keep_alive_timeouts{0};
  std::atomic<uint64_t> slow_consumer_episodes{0};
  std::atomic<uint64_t> slow_consumer_disconnects{0};
  /// CONNECTs refused by authentication (0x86, 0x87, 0x8C).
  std::atomic<uint64_t> auth_failures{0};
  /// PUBLISHes refused for lack of permission (every QoS; QoS 0 ones are
  /// dropped silently, so this is where they show).
  std::atomic<uint64_t> publishes_refused{0};
  /// PUBLISHes to explicit topics whose payload does not convert to the
  /// topic's type (0x99; QoS 0 ones dropped).
  std::atomic<uint64_t> publishes_unconverted{0};
  /// Platform API requests answered, and those dropped for want of a
  /// response topic.
  std::atomic<uint64_t> api_requests{0};
  std::atomic<uint64_t> api_dropped{0};
  /// Subscriptions removed from sessions because their principal's rights
  /// no longer let them read the filter (a role or the store changed).
  std::atomic<uint64_t> subscriptions_revoked{0};
  /// Authentication outcomes, in detail.
  auth_counters auth;

  static void add(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept {
    c.fetch_add(n, std::memory_order_relaxed);
  }
};

} // namespace castor
