#pragma once

// Castor's durable state behind one interface (docs/persistence.md): an
// ordered map of byte strings, written in atomic batches, with RocksDB
// underneath in the server and a map in memory for unit tests. What the
// keys and values mean is records.hpp's business; the store only keeps
// them. Not thread-safe for writes: one writer actor owns a store
// (actors/store_writer.hpp); reads happen at startup, before it runs.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace castor::storage {

/// One key set to a value, or erased (an empty value: no record is empty).
struct change {
  std::string key;
  std::string value;
  bool erase() const noexcept {
    return value.empty();
  }
};

class store {
public:
  virtual ~store();

  /// Applies `changes` in one atomic batch. With `sync`, the batch and
  /// every earlier one are on disk when it returns. Empty on success, else
  /// what went wrong.
  virtual std::string write(const std::vector<change>& changes, bool sync) = 0;

  /// Makes every earlier batch durable (fsync of the write-ahead log).
  virtual std::string sync() = 0;

  /// The value at `key`, if any.
  virtual std::optional<std::string> get(std::string_view key) = 0;

  /// Calls `f` for every key that starts with `prefix`, in key order,
  /// until it returns false.
  virtual void scan(std::string_view prefix,
                    const std::function<bool(std::string_view key,
                                             std::string_view value)>& f)
      = 0;

  /// A consistent copy of the store in `dir` (which must not exist), taken
  /// while it runs. Empty on success, else why not.
  virtual std::string checkpoint(const std::string& dir) = 0;

  /// About how many bytes the store takes on disk (in memory for the
  /// memory store).
  virtual uint64_t size_bytes() = 0;
};

/// A store in memory: the same behaviour, nothing on disk (unit tests).
std::unique_ptr<store> make_memory_store();

/// What opening a data directory found.
struct open_result {
  std::unique_ptr<store> db; ///< null if it could not be opened
  std::string error;         ///< why not (names the directory)
  /// Damage found and repaired: what the log reports (empty if none).
  std::vector<std::string> repairs;
};

/// Opens (creating it and its parents if needed) the RocksDB store in
/// `dir`. A directory written by a newer, incompatible version is refused;
/// a damaged one is repaired to its last consistent state (the original
/// is kept beside it) and the damage reported.
open_result open_rocksdb(const std::string& dir);

/// The format this version writes and reads (the "format" record).
inline constexpr uint32_t format_version = 1;

} // namespace castor::storage
