#include "storage/internal/db.h"

#include <algorithm>
#include <array>
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include "storage/codec.h"
#include "storage/internal/keys.h"
#include "storage/internal/skiplist_rep.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

namespace {

// The primary's write-ahead log files (their names), sorted.
std::vector<std::string> LogFiles(const std::string& path) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    if (e.path().extension() == ".log") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// How many times a secondary reads the primary again while the primary keeps deleting
// log files.
constexpr int kSecondaryTries = 50;

constexpr std::array<std::string_view, static_cast<size_t>(Cf::kCount)> kNames = {
    "default",
    "jobs",
    "events",
    "log",
    "snapshots",
    "files",
    "file_ids",
    "files_by_status",
    "dedupe",
    "jobs_by_org",
    "checkpoints",
    "log_by_org",
    "file_versions",
    "eta_history",
    "jobs_by_org_status",
    "jobs_by_org_filter"};
}  // namespace

std::string_view CfName(Cf cf) { return kNames[static_cast<size_t>(cf)]; }

bool IsDerived(Cf cf) {
  return cf != Cf::kMeta && cf != Cf::kJobs && cf != Cf::kEvents && cf != Cf::kLog;
}

Result<std::unique_ptr<Db>> Db::Open(const DbOptions& o) {
  rocksdb::Options options;
  options.create_if_missing = o.create_if_missing;
  options.create_missing_column_families = true;
  if (o.env) options.env = o.env.get();
  options.max_background_jobs = 2;
  options.bytes_per_sync = 1 << 20;
  // Files made obsolete (a compaction's inputs, a dropped family's tables) are deleted
  // by a background thread, not by whoever released them last: replay's drop of the
  // derived families spent 142 ms unlinking 144 tables of a 10M-event store before it
  // read an event, and a read that drops the last reference to an old version no longer
  // waits on unlink.
  options.avoid_unnecessary_blocking_io = true;
  // Our memtable (skiplist_rep.h) takes one writer at a time: RocksDB's write group
  // leader inserts every batch of its group.
  options.memtable_factory = NewSkipListRepFactory();
  options.allow_concurrent_memtable_write = false;
  options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(o.total_memtable_bytes);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  table.cache_index_and_filter_blocks = true;
  // 16 KiB blocks instead of 4: a table's index, which the block cache takes in whole
  // when the table is opened, is a quarter of the size, so the cache does not fill with
  // indexes as the store grows (indexes were 18 of its 21 MiB at 3M events); reads are
  // pages of rows anyway, and a point read decodes one block either way.
  table.block_size = 16 << 10;
  rocksdb::ColumnFamilyOptions cf_options(options);
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // LZ4 rather than RocksDB's default Snappy: our records compress to the same size
  // (107 MB either way for a 1M-event store), and they decompress faster, which is
  // what replay and history reads pay for (a raw scan of the log and the events
  // families: 2.07M -> 2.77M events/s; replay +2-3%).
  cf_options.compression = rocksdb::kLZ4Compression;

  // Families probed by key on every append, where most probes miss (a new event id, a
  // new file, a new job), get bloom filters, in their tables and on the memtable, so a
  // miss costs neither a block read nor a skip-list walk. The other families are
  // scanned or read by keys that exist, where a filter only costs: it would take ten
  // bits a key of the block cache, a share that grows with the store.
  rocksdb::BlockBasedTableOptions filtered = table;
  filtered.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Partitioned, so the cache holds a table's filter in 4 KiB pieces. A whole filter
  // is ten bits a key: 3.8 MB for a dedupe table of 3M events, more than a shard of
  // the block cache (128 MiB in 64 shards) takes, so every probe of that table read
  // and checksummed the whole filter again (`jobctl verify` of a 5M-event store ran
  // for minutes on it). The pieces need the two-level index.
  filtered.partition_filters = true;
  filtered.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  rocksdb::ColumnFamilyOptions probed = cf_options;
  probed.table_factory.reset(rocksdb::NewBlockBasedTableFactory(filtered));
  if (o.memtable_filters) {
    probed.memtable_whole_key_filtering = true;
    probed.memtable_prefix_bloom_size_ratio = 0.05;
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kNames.size(); ++i) {
    const Cf cf = static_cast<Cf>(i);
    const bool is_probed = cf == Cf::kDedupe || cf == Cf::kFileIds || cf == Cf::kJobs;
    rocksdb::ColumnFamilyOptions options_i = is_probed ? probed : cf_options;
    // Families keyed by jid first: a commit group writes each job's keys in ascending
    // runs, and the next group continues them, so each memtable keeps an insert hint
    // per jid and starts the next key's search where the job's last one went (the
    // writer thread's CPU -12% on 8 × 100).
    const bool by_jid = cf == Cf::kEvents || cf == Cf::kFiles || cf == Cf::kFileIds ||
                        cf == Cf::kFilesByStatus || cf == Cf::kDedupe ||
                        cf == Cf::kCheckpoints || cf == Cf::kFileVersions ||
                        cf == Cf::kSnapshots;
    if (by_jid) {
      options_i.memtable_insert_with_hint_prefix_extractor.reset(
          rocksdb::NewFixedPrefixTransform(8));
    }
    descriptors.emplace_back(std::string(kNames[i]), options_i);
  }

  std::unique_ptr<Db> db(new Db());
  for (const auto& d : descriptors) db->cf_options_.push_back(d.options);
  rocksdb::DB* raw = nullptr;
  rocksdb::DBOptions db_options(options);
  rocksdb::Status s;
  if (o.secondary_path.empty()) {
    s = rocksdb::DB::Open(db_options, o.path, descriptors, &db->handles_, &raw);
  } else {
    // A secondary opens every table at once and keeps it open, so the primary's
    // compactions can delete files under it without breaking its reads.
    db_options.max_open_files = -1;
    db->secondary_ = true;
    // A secondary reads the MANIFEST, then the log files it names. Should the primary
    // finish flushing every family past a log file in between, it deletes the file,
    // whose writes the MANIFEST read had not yet placed in a table: the secondary
    // fails to open it, or skips it and shows some families without its writes (an
    // event in the log but not in the events family). Log files become obsolete
    // oldest first, so a read during which none of the files there before it began
    // went away missed nothing. After one that lost some, catching up with the
    // primary reads the MANIFEST again (the flush's tables hold what the deleted files
    // held), then the logs.
    auto close = [&] {
      for (auto* h : db->handles_) {
        raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      }
      db->handles_.clear();
      delete raw;
      raw = nullptr;
    };
    for (int attempt = 1;; ++attempt) {
      const std::vector<std::string> before = LogFiles(o.path);
      if (raw == nullptr) db->handles_.clear();  // what a failed open may have left
      s = raw == nullptr
              ? rocksdb::DB::OpenAsSecondary(db_options, o.path, o.secondary_path,
                                             descriptors, &db->handles_, &raw)
              : raw->TryCatchUpWithPrimary();
      const std::vector<std::string> after = LogFiles(o.path);
      const bool lost =
          !std::includes(after.begin(), after.end(), before.begin(), before.end());
      if (s.ok() && !before.empty() && !lost) break;
      if (s.ok() && attempt == kSecondaryTries) {
        s = rocksdb::Status::Busy("the server kept deleting log files; try again");
      }
      if (!s.ok() && raw != nullptr) close();  // a failed catch-up: open anew
      if (attempt == kSecondaryTries) break;
    }
  }
  if (!s.ok()) return Err(FromRocks(s, "open " + o.path));
  db->db_.reset(raw);
  return db;
}

Status Db::FlushAll() {
  return FromRocks(db_->Flush(rocksdb::FlushOptions(), handles_), "flush the memtables");
}

Status Db::Recreate(const std::vector<Cf>& families) {
  // All at once: each drop or create alone writes the manifest and the options file,
  // and syncs them.
  std::vector<rocksdb::ColumnFamilyHandle*> old;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (Cf c : families) {
    const size_t i = static_cast<size_t>(c);
    old.push_back(handles_[i]);
    descriptors.emplace_back(std::string(kNames[i]), cf_options_[i]);
  }
  rocksdb::Status s = db_->DropColumnFamilies(old);
  for (Cf c : families) {
    const size_t i = static_cast<size_t>(c);
    if (s.ok()) s = db_->DestroyColumnFamilyHandle(handles_[i]);
    if (s.ok()) handles_[i] = nullptr;
  }
  std::vector<rocksdb::ColumnFamilyHandle*> created;
  if (s.ok()) s = db_->CreateColumnFamilies(descriptors, &created);
  for (size_t k = 0; k < created.size(); ++k) {
    handles_[static_cast<size_t>(families[k])] = created[k];
  }
  return FromRocks(s, "recreate the derived families");
}

Db::~Db() {
  for (auto* h : handles_) {
    if (h) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  if (db_) db_->Close().PermitUncheckedError();
}

uint64_t Db::CurrentWal() const {
  std::unique_ptr<rocksdb::LogFile> wal;
  if (!db_->GetCurrentWalFile(&wal).ok() || !wal) return 0;
  return wal->LogNumber();
}

bool Db::WalFailed() const {
  std::scoped_lock lock(wal_mu_);
  if (failed_wal_ != 0 && CurrentWal() != failed_wal_) failed_wal_ = 0;  // a new log
  return failed_wal_ != 0;
}

Status Db::Write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* batch) const {
  if (WalFailed()) {
    return Status::Unavailable(
        "storage write: the write-ahead log a write failed on is still in use; writes "
        "resume once RocksDB has started a new one, or after a restart");
  }
  const rocksdb::Status s = db_->Write(options, batch);
  // A failed append or sync of the log comes back as it was (no severity); a write
  // refused because RocksDB had already stopped comes back as its background error.
  if (s.IsIOError() && s.severity() == rocksdb::Status::Severity::kNoError) {
    // Read at once: RocksDB's recovery cannot start a new log before this thread has
    // left the write. Should it have, the new log is refused too, which is safe.
    std::scoped_lock lock(wal_mu_);
    failed_wal_ = CurrentWal();
  }
  return FromRocks(s, "write");
}

Result<std::optional<std::string>> Db::Get(Cf c, std::string_view key,
                                           const rocksdb::Snapshot* snap) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::string value;
  rocksdb::Status s = db_->Get(ro, cf(c), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return Err(FromRocks(s, "read " + std::string(CfName(c))));
  return value;
}

Result<engine::FileRow> ReadFileRow(const Db& db, uint64_t jid, uint64_t ordinal,
                                    const rocksdb::Snapshot* snap) {
  const std::string key = keys::File(jid, ordinal);
  auto value = db.Get(Cf::kFiles, key, snap);
  if (!value.has_value()) return Err(value.error());
  if (!*value) return Err(Status::Corruption(keys::Describe("files", key) + ": indexed but missing"));
  return DecodeFileRow(**value, {"files", key});
}

}  // namespace jobstate::storage
