#pragma once

// What a run measures: per-stream sequence checks (loss, duplicates,
// reordering), latency samples, and the server's RSS and CPU time from /proc.

#include <cstddef>
#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>
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

  /// Whether `seq` of `publisher` has arrived (at least once).
  bool seen(uint32_t publisher, uint64_t seq) const;

  /// The missing sequence numbers of `publisher` below the next expected
  /// one, as half-open ranges [first, second), ascending.
  std::vector<std::pair<uint64_t, uint64_t>> gaps(uint32_t publisher) const;

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
    /// Gaps not yet filled: start -> end (exclusive), disjoint. Ranges, so
    /// that massive loss (an overloaded broker) costs one entry per gap,
    /// not one per message.
    std::map<uint64_t, uint64_t> missing;
    uint64_t missing_count = 0;
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

/// Which messages of each publisher were acknowledged (PUBACK / PUBCOMP
/// with success), so that a run can name the acknowledged ones a subscriber
/// never received, not merely compare counts: a broker may deliver messages
/// it has not acknowledged yet, and acknowledge others it then drops.
class ack_ledger {
public:
  void resize(uint32_t publishers) {
    acked_.resize(publishers);
  }
  void acknowledge(uint32_t publisher, uint64_t seq);
  bool acknowledged(uint32_t publisher, uint64_t seq) const;

  struct tally {
    uint64_t acked = 0;               ///< acknowledged
    uint64_t acked_lost = 0;          ///< acknowledged, never delivered
    uint64_t delivered_unacked = 0;   ///< delivered, never acknowledged
    uint64_t first_lost = UINT64_MAX; ///< lowest acknowledged-but-lost seq
  };
  /// Compares one publisher's acknowledgements with what `c` (the checker
  /// of a subscriber that gets every message of that publisher) has seen.
  tally compare(uint32_t publisher, const sequence_checker& c) const;

private:
  std::vector<std::vector<bool>> acked_; ///< per publisher, by sequence
};

/// Token bucket in bytes: a reader that may take `rate` bytes per second on
/// average and at most `burst` bytes at once.
class byte_pacer {
public:
  void start(uint64_t now, double rate, double burst) {
    rate_ = rate;
    burst_ = burst;
    tokens_ = 0;
    last_ = now;
  }
  /// Bytes that may be read now (refills first).
  size_t available(uint64_t now);
  void consume(size_t n) {
    tokens_ -= static_cast<double>(n);
  }

private:
  double rate_ = 0, burst_ = 0, tokens_ = 0;
  uint64_t last_ = 0;
};

/// PUBLISHes written to a socket in full, when `queued` of them (all of
/// `frame_size` bytes) went into a buffer of which `pending` bytes are not
/// written yet: a frame written in part does not count.
uint64_t written_in_full(uint64_t queued, size_t pending, size_t frame_size);

/// The server's resident set (kB) and utime+stime (s); negative if unknown.
long read_rss_kb(int pid);
double read_cpu_seconds(int pid);
/// This process's user + system CPU time (s).
double own_cpu_seconds();

} // namespace castor::bench
