#include "actors/store_writer.hpp"

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/types.hpp"
#include "log/log.hpp"

namespace castor {

namespace {

struct writer_state {
  std::shared_ptr<storage::store> db;
  store_writer_options opts;
  std::shared_ptr<store_counters> counters;
  /// Records received since the last batch, by key (the last one wins).
  std::map<std::string, std::string> pending;
  /// Questions (sync_atom) answered once the next batch is on disk.
  std::vector<caf::response_promise> waiting;
  bool flush_scheduled = false;
  /// Whether something was written since the last fsync.
  bool unsynced = false;
  bool failing = false;
  static inline const char* name = "store_writer";
};

using writer_actor = caf::stateful_actor<writer_state>;

void note_error(writer_actor* self, const std::string& what,
                const std::string& err) {
  auto& st = self->state;
  st.counters->errors.fetch_add(1, std::memory_order_relaxed);
  if (!st.failing)
    CASTOR_LOG(error, "storage", what << ": " << err);
  st.failing = true;
}

/// Counts a synced write or a sync that began at `start`.
void count_sync(store_counters& c,
                std::chrono::steady_clock::time_point start) {
  c.syncs.fetch_add(1, std::memory_order_relaxed);
  c.sync_us.fetch_add(std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count(),
                      std::memory_order_relaxed);
}

/// Writes what is pending in one batch; with `durable`, that batch and
/// everything before it reach the disk (one fsync). False if that failed:
/// what was pending stays pending (tried again at the next tick).
bool write_pending(writer_actor* self, bool durable) {
  auto& st = self->state;
  auto& c = *st.counters;
  auto start = std::chrono::steady_clock::now();
  if (!st.pending.empty()) {
    std::vector<storage::change> batch;
    batch.reserve(st.pending.size());
    uint64_t bytes = 0;
    for (auto& [k, v] : st.pending) {
      bytes += k.size() + v.size();
      batch.push_back(storage::change{k, v});
    }
    auto n = st.pending.size();
    auto err = st.db->write(batch, durable);
    if (!err.empty()) {
      note_error(self, "cannot write " + std::to_string(n) + " records", err);
      return false;
    }
    st.pending.clear();
    c.waiting.fetch_sub(std::min<uint64_t>(n, c.waiting.load()),
                        std::memory_order_relaxed);
    c.records.fetch_add(n, std::memory_order_relaxed);
    c.bytes.fetch_add(bytes, std::memory_order_relaxed);
    c.batches.fetch_add(1, std::memory_order_relaxed);
    if (durable)
      count_sync(c, start);
    st.unsynced = !durable;
  } else if (durable && st.unsynced) {
    auto err = st.db->sync();
    if (!err.empty()) {
      note_error(self, "cannot sync the write-ahead log", err);
      return false;
    }
    count_sync(c, start);
    st.unsynced = false;
  }
  st.failing = false;
  return true;
}

/// Writes the batch and answers the questions that came before it, once
/// it is on disk: never before (if the disk fails, they wait, and their
/// publishers are not acknowledged).
void flush(writer_actor* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  bool durable = st.opts.sync && !st.waiting.empty();
  if (!write_pending(self, durable))
    return;
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  for (auto& rp : waiting)
    rp.deliver(true);
}

/// The batch is written once the mailbox holds nothing older than this
/// message: what arrives meanwhile goes in it too.
void schedule_flush(writer_actor* self) {
  auto& st = self->state;
  if (st.flush_scheduled)
    return;
  st.flush_scheduled = true;
  self->send(self, flush_atom::value);
}

caf::behavior store_writer(writer_actor* self,
                           std::shared_ptr<storage::store> db,
                           store_writer_options opts,
                           std::shared_ptr<store_counters> counters) {
  auto& st = self->state;
  st.db = std::move(db);
  st.opts = opts;
  st.counters = std::move(counters);
  st.counters->size_bytes = st.db->size_bytes();
  self->delayed_send(self, std::chrono::milliseconds(opts.interval_ms),
                     tick_atom::value);
  return {
      [=](store_atom, std::string& key, std::string& record) {
        auto& st = self->state;
        st.pending[std::move(key)] = std::move(record);
        st.counters->waiting.fetch_add(1, std::memory_order_relaxed);
        if (st.pending.size() >= st.opts.max_batch)
          write_pending(self, false);
        else
          schedule_flush(self);
      },
      [=](sync_atom) -> caf::result<bool> {
        auto& st = self->state;
        st.waiting.push_back(self->make_response_promise());
        schedule_flush(self);
        return st.waiting.back();
      },
      [=](flush_atom) { flush(self); },
      [=](tick_atom) {
        auto& st = self->state;
        if (!st.flush_scheduled) {
          if (!st.waiting.empty())
            flush(self); // after a failure: tried again
          else
            write_pending(self, true);
        }
        st.counters->size_bytes = st.db->size_bytes();
        self->delayed_send(self, std::chrono::milliseconds(st.opts.interval_ms),
                           tick_atom::value);
      },
      [=](backup_atom, const std::string& dir) -> std::string {
        // What was received before is in the checkpoint.
        write_pending(self, true);
        auto err = self->state.db->checkpoint(dir);
        if (err.empty())
          CASTOR_LOG(info, "storage", "backup written to '" << dir << "'");
        return err;
      },
  };
}

} // namespace

caf::actor spawn_store_writer(caf::actor_system& sys,
                              std::shared_ptr<storage::store> db,
                              store_writer_options opts,
                              std::shared_ptr<store_counters> counters) {
  return sys.spawn<caf::detached>(store_writer, std::move(db), opts,
                                  std::move(counters));
}

} // namespace castor
