#pragma once

// The store writer: the one actor that writes Castor's store
// (storage/store.hpp), on a thread of its own so that no topic or session
// ever waits on a disk (docs/persistence.md).
//
// Topics send it records as they change (store_atom, key, record; an empty
// record erases) and go on. A topic that must not acknowledge an update
// before it is on disk (durability `sync`) then asks (sync_atom): the
// writer answers once everything it received before the question is in
// the write-ahead log on disk. Records and questions that arrive while it
// writes wait and go together in the next batch, with one fsync for all
// of them (group commit). Several changes of one key in one batch are
// written once. With durability `async`, nobody asks, and the log is
// synced every `interval_ms`.

#include <atomic>
#include <cstdint>
#include <memory>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "storage/store.hpp"

namespace castor {

/// What the writer has done, for the metrics (relaxed atomics).
struct store_counters {
  std::atomic<uint64_t> records{0};    ///< records written (or erased)
  std::atomic<uint64_t> bytes{0};      ///< bytes of records written
  std::atomic<uint64_t> batches{0};    ///< write batches
  std::atomic<uint64_t> syncs{0};      ///< fsyncs of the write-ahead log
  std::atomic<uint64_t> sync_us{0};    ///< time spent in them, microseconds
  std::atomic<uint64_t> errors{0};     ///< failed writes or syncs
  std::atomic<uint64_t> waiting{0};    ///< records received, not yet written
  std::atomic<uint64_t> size_bytes{0}; ///< the store's size, last seen
};

/// What the topics know of the store: where to send records, and whether
/// to wait for them before acknowledging.
struct store_link {
  caf::actor writer;
  bool sync = true;
};
using store_link_ptr = std::shared_ptr<const store_link>;

struct store_writer_options {
  bool sync = true;
  /// With `async`: how often the log is synced.
  uint32_t interval_ms = 100;
  /// Records in one batch at most (a batch is written when it has this
  /// many, without waiting for the mailbox to empty).
  uint32_t max_batch = 4096;
};

caf::actor spawn_store_writer(caf::actor_system& sys,
                              std::shared_ptr<storage::store> db,
                              store_writer_options opts,
                              std::shared_ptr<store_counters> counters);

} // namespace castor
