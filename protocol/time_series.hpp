#pragma once

// The events of a time-series topic: appended with a sequence number
// (contiguous from 0), the server's timestamp and the author; edited by a
// later event that overrides an original one (the latest edit wins); old
// events dropped as the retained range says; range queries by sequence,
// time, count and duration, as values (edits merged) or as edits.
// Pure C++17: the topic actor holds one.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/topic_spec.hpp"
#include "protocol/value.hpp"

namespace castor {

struct ts_event {
  uint64_t seq = 0;
  int64_t timestamp = 0; ///< ms since the epoch
  std::string author;    ///< the principal ("" for anonymous)
  value_ptr value;
  /// An edit: the original event it overrides.
  std::optional<uint64_t> original;
};

/// What a range query asks for. The anchor (`from_*`, at most one) picks
/// the first event, the span (`to_*` / `next_*`, at most one) the last; no
/// anchor starts at the oldest retained event, no span ends at the newest.
struct range_query {
  enum class view : uint8_t {
    values, ///< original events, each with its latest edit merged in
    edits,  ///< every event, edits included, as they were appended
  };
  view what = view::values;
  std::optional<uint64_t> from_seq;  ///< first event at or after it
  std::optional<int64_t> from_time;  ///< first event at or after it (ms)
  std::optional<uint64_t> from_last; ///< the last N events
  std::optional<std::chrono::milliseconds> from_last_for; ///< before now
  std::optional<uint64_t> to_seq; ///< events up to and including it
  std::optional<int64_t> to_time; ///< events up to and including it
  std::optional<uint64_t> next;   ///< N events from the anchor
  std::optional<std::chrono::milliseconds> next_for; ///< from the anchor's
  std::optional<size_t> limit; ///< at most this many in the answer
};

struct range_result {
  std::vector<ts_event> events;
  bool more = false; ///< the limit cut the range short
};

class time_series {
public:
  explicit time_series(range_expression retained = {}) : retained_(retained) {}

  /// Appends an event at `now` (ms since the epoch; an earlier time than
  /// the last event's is taken as the last event's, so time never runs
  /// backwards within a series).
  ts_event append(value_ptr v, std::string author, int64_t now);

  /// Edits original event `original`: an error text if it is not a
  /// retained original event.
  std::variant<ts_event, std::string> edit(uint64_t original, value_ptr v,
                                           std::string author, int64_t now);

  /// Takes an event another series made (in a node group, the topic
  /// owner's), with its own seq and timestamp: false, and nothing kept,
  /// unless its seq is past every event taken so far.
  bool take(ts_event e, int64_t now);

  range_result range(const range_query& q, int64_t now) const;

  /// What a new subscriber gets first: the latest original events that
  /// `r` keeps (TIME_SERIES_SUBSCRIPTION_RANGE; an unbounded range keeps
  /// the latest one only), each with its latest edit merged in, oldest
  /// first.
  std::vector<ts_event> subscription_events(const range_expression& r,
                                            int64_t now) const;

  /// The number the next event gets.
  uint64_t next_seq() const noexcept {
    return next_;
  }
  size_t size() const noexcept {
    return events_.size();
  }
  /// The latest value (of the newest original event, its edits merged).
  std::optional<ts_event> latest() const;

  /// Keeps the seqs of the events the retained range drops, for
  /// take_dropped() (what keeps the series elsewhere forgets them too).
  void track_dropped(bool on) noexcept {
    track_dropped_ = on;
  }
  std::vector<uint64_t> take_dropped() {
    return std::exchange(dropped_, {});
  }

private:
  void drop_old(int64_t now);
  ts_event merged(const ts_event& original) const;

  range_expression retained_;
  std::map<uint64_t, ts_event> events_; ///< by seq, edits included
  /// Original seq -> the seqs of its edits, oldest first.
  std::map<uint64_t, std::vector<uint64_t>> edits_;
  uint64_t next_ = 0;
  int64_t last_time_ = 0;
  bool track_dropped_ = false;
  std::vector<uint64_t> dropped_;
};

} // namespace castor
