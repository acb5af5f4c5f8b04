#pragma once
// The RocksDB database and its column families.
//
// Thread safety: safe for concurrent use (RocksDB's own guarantee); the handle vector is
// constant after Open.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>

#include "engine/state.h"
#include "engine/status.h"

namespace jobstate::storage {

// The data dir format this build writes (meta "format"; docs/formats.md).
inline constexpr std::string_view kDataFormat = "jobstate/4";

// Column families. The log's truth is kJobs, kEvents and kLog; everything else is
// derived and rebuilt by replay. Never renumber: the order is the open order.
enum class Cf : size_t {
  kMeta = 0,         // "default": schema version, last position, next jid
  kJobs,             // org 0 job_id -> jid                      (truth)
  kEvents,           // jid version -> event record              (truth)
  kLog,              // position -> jid version org              (truth)
  kSnapshots,        // jid -> snapshot record
  kFiles,            // jid ordinal -> file row record
  kFileIds,          // jid uri -> ordinal
  kFilesByStatus,    // jid status ordinal -> empty
  kDedupe,           // jid event_id -> dedupe entry
  kJobsByOrg,        // org 0 ~created_at jid -> empty
  kCheckpoints,      // jid version -> snapshot record, at group ends every ~K versions
  kLogByOrg,         // org 0 position -> jid version
  kFileVersions,     // jid ordinal version -> file row record, as of the group end
  kEtaHistory,       // org 0 collection job_type position -> the ETA's prior, cumulative
  kJobsByOrgStatus,  // org 0 status ~created_at jid -> empty
  kJobsByOrgFilter,  // org 0 filter (collection, job type) status ~created_at jid ->
                     // empty
  kCount,
};

std::string_view CfName(Cf cf);

// A write staged for a commit group: a Put, or a Delete when `value` is empty.
struct StagedWrite {
  Cf cf;
  std::string key;
  std::optional<std::string> value;
};
bool IsDerived(Cf cf);

struct DbOptions {
  std::string path;
  bool create_if_missing = true;
  size_t block_cache_bytes = 128 << 20;      // Default: 128 MiB shared by every family
  size_t total_memtable_bytes = 256 << 20;   // Default: 256 MiB across families
  // Bloom filters in the memtables of the families probed by key. A bulk rebuild that
  // never probes them (replay) turns them off: each insert would only pay a cache miss.
  bool memtable_filters = true;
  // The environment RocksDB runs in; null for the default one. Tests pass one whose
  // file system fails on demand.
  std::shared_ptr<rocksdb::Env> env = nullptr;
  // Default: empty. Set: opens the database as a RocksDB secondary instance beside the
  // process that holds it, keeping the instance's own files (its info log) in this
  // directory. A secondary reads the database as it was when it opened and never
  // writes it: every write, flush and family change fails.
  std::string secondary_path = {};
};

class Db {
 public:
  // Opens (creating if allowed) the database with every column family. Unavailable if
  // another process holds it (unless `secondary_path` is set).
  static Result<std::unique_ptr<Db>> Open(const DbOptions& options);
  ~Db();

  rocksdb::DB* get() const { return db_.get(); }
  // Opened as a secondary instance (DbOptions::secondary_path): it reads, never writes.
  bool secondary() const { return secondary_; }
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles_[static_cast<size_t>(c)]; }

  // Drops the families and creates them again, empty, with the same options (replay).
  Status Recreate(const std::vector<Cf>& families);
  // Writes every family's memtables out to tables, and waits for it.
  Status FlushAll();

  // Reads `key` of `c`: the value, nullopt when absent, or the error.
  Result<std::optional<std::string>> Get(Cf c, std::string_view key,
                                         const rocksdb::Snapshot* snap = nullptr) const;

  // Writes `batch` through the write-ahead log: the commit path's writes go through
  // here. After a write fails, RocksDB 7.8 recovers (from a full disk) by flushing its
  // memtables, and only a flush of a memtable that holds something starts a new log.
  // When none does, it goes on appending to the log file that failed, and Debian's
  // build, which keeps RocksDB's assertions, aborts the process there (fixed upstream
  // in RocksDB 9.1, "Don't write to WAL after previous WAL write error"). So after a
  // failure this refuses to write, with Unavailable, for as long as the log that was
  // current then is still the current one. A restart always clears it.
  // Thread-safe; `batch` is written whole or not at all.
  Status Write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch) const;
  // True while Write() refuses: the log a write failed on is still the current one.
  bool WalFailed() const;

 private:
  Db() = default;
  // The number of the log file RocksDB appends to now (0 if it cannot say).
  uint64_t CurrentWal() const;

  mutable std::mutex wal_mu_;
  mutable uint64_t failed_wal_ = 0;  // guarded by wal_mu_; 0: no failed write since
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<rocksdb::ColumnFamilyOptions> cf_options_;
  bool secondary_ = false;
};

// A consistent point-in-time view for one read, released when the read is done.
// Not thread-safe; lives on one reader's stack.
class ReadSnapshot {
 public:
  // A secondary instance takes no snapshots, and needs none: what it reads changes only
  // when it catches up with its primary, which Jobstate's never do.
  explicit ReadSnapshot(const Db& db)
      : db_(db.get()), snap_(db.secondary() ? nullptr : db_->GetSnapshot()) {}
  ~ReadSnapshot() {
    if (snap_) db_->ReleaseSnapshot(snap_);
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

  const rocksdb::Snapshot* get() const { return snap_; }
  rocksdb::ReadOptions Options() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    return ro;
  }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
};

// The file row (jid, ordinal), which an index said exists: Corruption when it is
// missing or does not decode.
Result<engine::FileRow> ReadFileRow(const Db& db, uint64_t jid, uint64_t ordinal,
                                    const rocksdb::Snapshot* snap = nullptr);

}  // namespace jobstate::storage
