#pragma once

// The bound on retained messages (mqtt.max_retained_messages and
// mqtt.max_retained_bytes), shared by every topic: a retained message that
// would exceed it is delivered but not retained, and counted. Relaxed
// atomics: topics on different threads take and give back room.

#include <atomic>
#include <cstdint>
#include <memory>

#include "protocol/session_state_message.hpp"

namespace castor {

struct retained_budget {
  uint64_t max_messages = 0; ///< 0: no bound
  uint64_t max_bytes = 0;    ///< 0: no bound
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
  /// Retained messages not kept for the bound.
  std::atomic<uint64_t> refused{0};

  /// What a retained message counts against the bytes.
  static uint64_t size_of(const mqtt::message& m) noexcept {
    return m.topic.size() + m.payload.size();
  }

  /// Room for a retained message of `size` bytes in place of one of
  /// `old_size` bytes (`had`: there was one); false (and counted) if it
  /// does not fit.
  bool take(uint64_t size, bool had, uint64_t old_size) noexcept {
    if (!had) {
      auto n = messages.fetch_add(1, std::memory_order_relaxed);
      if (max_messages > 0 && n >= max_messages) {
        messages.fetch_sub(1, std::memory_order_relaxed);
        refused.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    }
    auto b = bytes.fetch_add(size, std::memory_order_relaxed) + size;
    if (max_bytes > 0 && b - (had ? old_size : 0) > max_bytes) {
      bytes.fetch_sub(size, std::memory_order_relaxed);
      if (!had)
        messages.fetch_sub(1, std::memory_order_relaxed);
      refused.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (had)
      bytes.fetch_sub(old_size, std::memory_order_relaxed);
    return true;
  }

  /// A retained message of `size` bytes has gone.
  void give(uint64_t size) noexcept {
    messages.fetch_sub(1, std::memory_order_relaxed);
    bytes.fetch_sub(size, std::memory_order_relaxed);
  }
};

using retained_budget_ptr = std::shared_ptr<retained_budget>;

} // namespace castor
