#pragma once

// What a run measures: per-stream sequence checks (loss, duplicates,
// reordering), latency samples, and the server's RSS and CPU time from /proc.

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace castor::bench {

/// Monotonic clock in nanoseconds.
uint64_t now_ns();

/// Payload layout (little endian): publisher id u32, sequence u64, send time
/// u64 (now_ns()), then padding up to the payload size.
constexpr size_t payload_header = 20;

/// Checks the sequence numbers of one subscriber's messages, per publisher.
class sequence_checker {
public:
  /// Outcome of one message.
  enum class verdict : uint8_t { in_order, gap, late, duplicate };

  verdict observe(uint32_t publisher, uint64_t seq);

  /// For diagnostics: the next sequence number expected from `publisher`,
  /// how many below it are missing, and the lowest missing one (or the
  /// expected one when none is).
  struct stream_info {
    uint64_t expected = 0, missing = 0, first_missing = 0;
  };
  stream_info info(uint32_t publisher) const;

  uint64_t duplicates() const {
    return duplicates_;
  }
  uint64_t reordered() const {
    return reordered_;
  }

private:
  struct stream {
    uint64_t expected = 0;
    std::unordered_set<uint64_t> missing; ///< gaps not yet filled
  };
  std::unordered_map<uint32_t, stream> streams_;
  uint64_t duplicates_ = 0;
  uint64_t reordered_ = 0;
};

/// Latency samples (nanoseconds), bucketed per second of send time.
class latency_recorder {
public:
  void start(uint64_t t0_ns) {
    t0_ = t0_ns;
  }
  void add(uint64_t sent_ns, uint64_t received_ns);

  struct summary {
    uint64_t samples = 0;
    double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
    double median_p99_per_s_us = 0; ///< median over whole seconds
    uint32_t seconds = 0;
  };
  summary summarize() const;

private:
  uint64_t t0_ = 0;
  std::vector<std::vector<uint32_t>> per_second_; ///< samples in ns (capped)
};

/// The server's resident set (kB) and utime+stime (s); negative if unknown.
long read_rss_kb(int pid);
double read_cpu_seconds(int pid);
/// This process's user + system CPU time (s).
double own_cpu_seconds();

} // namespace castor::bench
