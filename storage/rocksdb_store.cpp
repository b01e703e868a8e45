#include <chrono>
#include <filesystem>
#include <system_error>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include "storage/store.hpp"

namespace castor::storage {

namespace {

namespace fs = std::filesystem;

/// The record every data directory starts with.
constexpr std::string_view format_key{"\0format", 7};
constexpr std::string_view format_prefix = "castor-store ";

class rocksdb_store final : public store {
public:
  explicit rocksdb_store(rocksdb::DB* db) : db_(db) {
    // nop
  }

  ~rocksdb_store() override {
    if (db_) {
      db_->FlushWAL(true);
      db_->Close();
      delete db_;
    }
  }

  std::string write(const std::vector<change>& changes, bool sync) override {
    rocksdb::WriteBatch batch;
    for (auto& c : changes) {
      auto s = c.erase() ? batch.Delete(c.key) : batch.Put(c.key, c.value);
      if (!s.ok())
        return s.ToString();
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    auto s = db_->Write(wo, &batch);
    return s.ok() ? std::string{} : s.ToString();
  }

  std::string sync() override {
    auto s = db_->SyncWAL();
    return s.ok() ? std::string{} : s.ToString();
  }

  std::optional<std::string> get(std::string_view key) override {
    std::string out;
    auto s = db_->Get(rocksdb::ReadOptions{},
                      rocksdb::Slice{key.data(), key.size()}, &out);
    if (!s.ok())
      return std::nullopt;
    return out;
  }

  void scan(std::string_view prefix,
            const std::function<bool(std::string_view, std::string_view)>& f)
      override {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro)};
    for (it->Seek(rocksdb::Slice{prefix.data(), prefix.size()}); it->Valid();
         it->Next()) {
      auto k = it->key();
      std::string_view key{k.data(), k.size()};
      if (key.compare(0, prefix.size(), prefix) != 0)
        break;
      auto v = it->value();
      if (!f(key, std::string_view{v.data(), v.size()}))
        return;
    }
  }

  std::string checkpoint(const std::string& dir) override {
    rocksdb::Checkpoint* cp = nullptr;
    auto s = rocksdb::Checkpoint::Create(db_, &cp);
    if (!s.ok())
      return s.ToString();
    std::unique_ptr<rocksdb::Checkpoint> owner{cp};
    s = cp->CreateCheckpoint(dir);
    return s.ok() ? std::string{} : s.ToString();
  }

  uint64_t size_bytes() override {
    uint64_t sst = 0, mem = 0, wal = 0;
    db_->GetIntProperty("rocksdb.total-sst-files-size", &sst);
    db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &mem);
    db_->GetIntProperty("rocksdb.live-wal-size", &wal);
    return sst + mem + wal;
  }

private:
  rocksdb::DB* db_;
};

rocksdb::Options options_for(rocksdb::WALRecoveryMode recovery) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.paranoid_checks = true;
  o.wal_recovery_mode = recovery;
  // Few files held open (the process's descriptors are for connections),
  // and memory in proportion to a broker's state, not a database server's.
  o.max_open_files = 256;
  o.write_buffer_size = 16 << 20;
  o.max_write_buffer_number = 2;
  o.keep_log_file_num = 3;
  o.max_log_file_size = 4 << 20;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(16 << 20);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

std::string open_error(const std::string& dir, const rocksdb::Status& s) {
  auto text = s.ToString();
  if (s.IsIOError() && text.find("lock") != std::string::npos)
    return "cannot open the data directory '" + dir
           + "': it is in use by another process (" + text + ")";
  return "cannot open the data directory '" + dir + "': " + text;
}

/// Checks the format record, writing it into a new store; empty if the
/// store is one this version reads.
std::string check_format(const std::string& dir, store& db) {
  auto found = db.get(format_key);
  if (!found) {
    bool empty = true;
    db.scan("", [&](std::string_view, std::string_view) {
      empty = false;
      return false;
    });
    if (!empty)
      return "the data directory '" + dir
             + "' holds records but no format record: it is not Castor's";
    return db.write(
        {{std::string{format_key},
          std::string{format_prefix} + std::to_string(format_version)}},
        true);
  }
  auto& text = *found;
  if (text.compare(0, format_prefix.size(), format_prefix) != 0)
    return "the data directory '" + dir + "' is not Castor's (format record '"
           + text + "')";
  auto version = std::strtoul(text.c_str() + format_prefix.size(), nullptr, 10);
  if (version > format_version)
    return "the data directory '" + dir
           + "' was written by a newer Castor "
             "(store format "
           + std::to_string(version)
           + "); this one reads "
             "format "
           + std::to_string(format_version)
           + " and older: run the newer version, or move the directory away";
  return {};
}

} // namespace

open_result open_rocksdb(const std::string& dir) {
  open_result r;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    r.error = "cannot create the data directory '" + dir + "': " + ec.message();
    return r;
  }
  rocksdb::DB* db = nullptr;
  // First as a store that must be whole: damage shows as an error here,
  // and is then reported and repaired below.
  auto s = rocksdb::DB::Open(
      options_for(rocksdb::WALRecoveryMode::kAbsoluteConsistency), dir, &db);
  if (s.IsCorruption()) {
    r.repairs.push_back("the write-ahead log is damaged or cut short ("
                        + s.ToString()
                        + "): recovered up to its last whole record");
    s = rocksdb::DB::Open(
        options_for(rocksdb::WALRecoveryMode::kPointInTimeRecovery), dir, &db);
  }
  if (s.ok()) {
    // Every table's checksums, read once: damage found now is repaired
    // now, not met by a read later.
    auto vs = db->VerifyChecksum();
    if (!vs.ok()) {
      db->Close();
      delete db;
      db = nullptr;
      s = vs.IsCorruption() ? vs : rocksdb::Status::Corruption(vs.ToString());
    }
  }
  if (s.IsCorruption()) {
    // Damaged tables: keep the damaged directory beside it, and salvage.
    auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    auto aside = dir + ".damaged-" + std::to_string(stamp);
    fs::copy(dir, aside, fs::copy_options::recursive, ec);
    r.repairs.push_back(
        "the store's tables are damaged (" + s.ToString()
        + "); the damaged directory is kept as '" + aside + "'"
        + (ec ? " (copy failed: " + ec.message() + ")" : std::string{}));
    auto opts = options_for(rocksdb::WALRecoveryMode::kPointInTimeRecovery);
    auto rs = rocksdb::RepairDB(dir, opts);
    if (!rs.ok()) {
      r.error = "the data directory '" + dir
                + "' is damaged and could not be repaired: " + rs.ToString();
      return r;
    }
    r.repairs.push_back("repaired: what the damaged tables still held is kept");
    s = rocksdb::DB::Open(opts, dir, &db);
  }
  if (!s.ok()) {
    r.error = open_error(dir, s);
    return r;
  }
  auto result = std::make_unique<rocksdb_store>(db);
  if (auto err = check_format(dir, *result); !err.empty()) {
    r.error = err;
    return r;
  }
  r.db = std::move(result);
  return r;
}

} // namespace castor::storage
