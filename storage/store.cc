#include "storage/store.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>

#include "storage/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/eta_history.h"
#include "storage/internal/keys.h"
#include "storage/internal/listing.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

namespace {

constexpr std::string_view kFormatKey = "format";
// Formats this build upgrades on open: jobstate/2 had neither listing index,
// jobstate/3 had no jobs_by_org_filter; UpgradeListings builds both.
constexpr std::string_view kOlderFormats[] = {"jobstate/2", "jobstate/3"};

bool IsOlderFormat(std::string_view format) {
  return std::find(std::begin(kOlderFormats), std::end(kOlderFormats), format) !=
         std::end(kOlderFormats);
}

Status WriteFormat(Db& db) {
  rocksdb::WriteOptions synced;
  synced.sync = true;
  return FromRocks(db.get()->Put(synced, db.cf(Cf::kMeta), std::string(kFormatKey),
                                 std::string(kDataFormat)),
                   "write format");
}

// A job's stored snapshot; Corruption when it is missing.
Result<engine::JobSnapshot> ReadSnapshotOf(const Db& db, uint64_t jid,
                                           const rocksdb::Snapshot* snapshot) {
  const std::string key = keys::Job(jid);
  auto value = db.Get(Cf::kSnapshots, key, snapshot);
  if (!value.has_value()) return Err(value.error());
  if (!*value) return Err(Status::Corruption(keys::Describe("snapshots", key) + ": missing"));
  return DecodeSnapshot(**value, {"snapshots", key});
}

// Builds the listing indexes (jobs_by_org_status, jobs_by_org_filter) from the
// listing and each job's snapshot, then marks the data dir with this build's format.
// One pass over the jobs; interrupted, it runs again at the next open (its writes are
// idempotent, and rewrite what a jobstate/3 dir already holds of them). Counts the
// jobs into `jobs`.
Status UpgradeListings(Db& db, uint64_t& jobs) {
  std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator({}, db.cf(Cf::kJobsByOrg)));
  rocksdb::WriteBatch batch;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() < 17 || key[key.size() - 17] != '\0') {
      return Status::Corruption(keys::Describe("jobs_by_org", key) + ": malformed key");
    }
    const uint64_t jid = keys::TrailingFixed64(key);
    auto snap = ReadSnapshotOf(db, jid, nullptr);
    if (!snap.has_value()) return snap.error();
    ++jobs;
    for (const ListingKey& entry : ListingEntries(*snap, jid, snap->status)) {
      Status s = FromRocks(batch.Put(db.cf(entry.cf), entry.key, ""), "stage listing");
      if (!s.ok()) return s;
    }
    if (batch.Count() >= 10'000) {
      Status s = FromRocks(db.get()->Write({}, &batch), "write the listing indexes");
      if (!s.ok()) return s;
      batch.Clear();
    }
  }
  Status s = FromRocks(it->status(), "scan jobs_by_org");
  if (s.ok()) s = FromRocks(db.get()->Write({}, &batch), "write the listing indexes");
  if (s.ok()) s = db.FlushAll();  // on disk before the format says it is there
  if (s.ok()) s = WriteFormat(db);
  return s;
}

// Checks the data dir's format, writing it into a new one and bringing an older one up
// to date (the upgrade made, if any).
Result<std::optional<FormatUpgrade>> CheckFormat(Db& db, bool read_only) {
  auto format = db.Get(Cf::kMeta, kFormatKey);
  if (!format.has_value()) return Err(format.error());
  if (read_only && (!*format || IsOlderFormat(**format))) {
    return Err(Status::FailedPrecondition(
        "upgrade_needed",
        "the data dir has not been brought up to this build's format; "
        "start this build's jobstated on it (or stop the server and run "
        "jobctl, which upgrades it) first"));
  }
  if (!*format) {
    Status s = WriteFormat(db);
    if (!s.ok()) return Err(s);
    return std::optional<FormatUpgrade>();
  }
  if (**format != kDataFormat && !IsOlderFormat(**format)) {
    return Err(Status::Corruption("data dir has format '" + **format +
                                  "'; this build reads '" + std::string(kDataFormat) +
                                  "'"));
  }
  auto replay = db.Get(Cf::kMeta, "replay");
  if (!replay.has_value()) return Err(replay.error());
  if (*replay) {
    return Err(Status::FailedPrecondition("replay_unfinished",
                                          "a replay of this data dir did not finish, so "
                                          "its derived records are incomplete; "
                                          "run `jobctl replay` again"));
  }
  if (!IsOlderFormat(**format)) return std::optional<FormatUpgrade>();
  const auto start = std::chrono::steady_clock::now();
  FormatUpgrade upgrade{**format, std::string(kDataFormat), 0, 0};
  Status s = UpgradeListings(db, upgrade.jobs);
  if (!s.ok()) return Err(s);
  upgrade.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::optional(std::move(upgrade));
}

// The counters as the last committed group left them: the log's last entry is the
// authority for the position and recorded_at.
Result<LogCounters> LoadCounters(Db& db) {
  LogCounters c;
  auto next_jid = db.Get(Cf::kMeta, "next_jid");
  if (!next_jid.has_value()) return Err(next_jid.error());
  if (*next_jid && (*next_jid)->size() == 8) c.next_jid = keys::DecodeFixed64((*next_jid)->data());
  auto counts = db.Get(Cf::kMeta, "jobs_by_status");
  if (!counts.has_value()) return Err(counts.error());
  if (*counts && !DecodeJobCounts(**counts, c.jobs_by_status)) {
    return Err(Status::Corruption("meta/jobs_by_status: malformed"));
  }
  auto accuracy = db.Get(Cf::kMeta, "eta_accuracy");
  if (!accuracy.has_value()) return Err(accuracy.error());
  if (*accuracy && !DecodeEtaAccuracy(**accuracy, c.eta_accuracy)) {
    return Err(Status::Corruption("meta/eta_accuracy: malformed"));
  }

  std::unique_ptr<rocksdb::Iterator> it(
      db.get()->NewIterator(rocksdb::ReadOptions(), db.cf(Cf::kLog)));
  it->SeekToLast();
  if (!it->status().ok()) return Err(FromRocks(it->status(), "scan log"));
  if (!it->Valid()) return c;
  const std::string_view key = it->key().ToStringView();
  const std::string_view value = it->value().ToStringView();
  if (key.size() != 8 || value.size() < 16) {
    return Err(Status::Corruption(keys::Describe("log", key) + ": malformed entry"));
  }
  c.last_position = keys::DecodeFixed64(key.data());
  const std::string event_key(value.substr(0, 16));
  auto record = db.Get(Cf::kEvents, event_key);
  if (!record.has_value()) return Err(record.error());
  if (!*record) return Err(Status::Corruption(keys::Describe("events", event_key) + ": missing"));
  auto event = DecodeEvent(**record, {"events", event_key});
  if (!event.has_value()) return Err(event.error());
  c.last_recorded_at = event->recorded_at;
  return c;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options,
                                           const engine::Clock& clock) {
  if (options.create_if_missing && !options.read_only) {
    std::error_code ec;
    std::filesystem::create_directories(options.path, ec);
    if (ec) return Err(Status::Unavailable("create " + options.path + ": " + ec.message()));
  }
  std::unique_ptr<Store> store(new Store());
  DbOptions db_options;
  db_options.path = options.path;
  db_options.create_if_missing = options.create_if_missing && !options.read_only;
  db_options.block_cache_bytes = options.block_cache_bytes;
  db_options.total_memtable_bytes = options.memtable_bytes;
  db_options.env = options.env;
  if (options.read_only) {
    std::string dir =
        (std::filesystem::temp_directory_path() / "jobstate-read-XXXXXX").string();
    if (mkdtemp(dir.data()) == nullptr) {
      return Err(Status::Unavailable("create a directory for a read-only open: " +
                                     std::string(std::strerror(errno))));
    }
    store->secondary_dir_ = db_options.secondary_path = dir;  // the destructor removes it
  }
  auto db = Db::Open(db_options);
  // On a failure below, `db` closes (without the flush ~Store makes) before `store`
  // removes the secondary's directory.
  if (!db.has_value()) return Err(db.error());
  auto upgrade = CheckFormat(**db, options.read_only);
  if (!upgrade.has_value()) return Err(upgrade.error());
  auto counters = LoadCounters(**db);
  if (!counters.has_value()) return Err(counters.error());

  store->db_ = std::move(*db);
  store->upgrade_ = std::move(*upgrade);
  store->sequencer_ =
      std::make_unique<Sequencer>(*store->db_, clock, options.sequencer, *counters);
  return store;
}

Store::~Store() {
  if (sequencer_) sequencer_->Stop();
  if (!secondary_dir_.empty()) {
    // A secondary has nothing of its own to write out.
    sequencer_.reset();
    db_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(secondary_dir_, ignored);
    return;
  }
  if (db_) {
    // The memtables are written out, so that the next open (the server's restart, a
    // `jobctl` command) starts at once instead of replaying the write-ahead log into
    // them: RocksDB flushes at close only when the WAL is off. Should this fail, the
    // WAL still holds every write and the next open recovers from it.
    (void)db_->FlushAll();
  }
}

void Store::Submit(engine::AppendRequest request, AppendCallback done) {
  if (!secondary_dir_.empty()) {
    done(Err(Status::FailedPrecondition(
        "read_only", "this store was opened read-only beside the server that holds it")));
    return;
  }
  sequencer_->Submit(std::move(request), std::move(done));
}

Result<engine::AppendResult> Store::Append(engine::AppendRequest request) {
  std::promise<Result<engine::AppendResult>> answer;
  auto future = answer.get_future();
  Submit(std::move(request),
         [&answer](Result<engine::AppendResult> r) { answer.set_value(std::move(r)); });
  return future.get();
}

Result<uint64_t> Store::ResolveJob(const std::string& org, const std::string& job_id,
                                   const rocksdb::Snapshot* snapshot) const {
  const std::string name = keys::JobName(org, job_id);
  auto value = db_->Get(Cf::kJobs, name, snapshot);
  if (!value.has_value()) return Err(value.error());
  if (!*value) return Err(Status::NotFound("job_not_found", "no job " + job_id));
  if ((*value)->size() != 8) {
    return Err(Status::Corruption(keys::Describe("jobs", name) + ": malformed jid"));
  }
  return keys::DecodeFixed64((*value)->data());
}

Result<engine::JobSnapshot> Store::LoadSnapshot(uint64_t jid,
                                                const rocksdb::Snapshot* snapshot) const {
  return ReadSnapshotOf(*db_, jid, snapshot);
}

Result<engine::JobSnapshot> Store::GetSnapshot(const std::string& org,
                                               const std::string& job_id) const {
  ReadSnapshot snap(*db_);
  return ResolveJob(org, job_id, snap.get()).and_then([&](uint64_t jid) {
    return LoadSnapshot(jid, snap.get());
  });
}

Result<std::optional<engine::EtaHistory>> Store::GetEtaHistory(
    const engine::JobSnapshot& job, std::optional<engine::Millis> at) const {
  if (job.status != engine::JobStatus::kRunning) return std::optional<engine::EtaHistory>();
  return ReadEtaHistory(*db_, {}, EtaHistoryPrefixOf(job), at);
}

}  // namespace jobstate::storage

namespace jobstate::storage {

Status Store::CheckWritable() const {
  uint64_t stopped = 0, errors = 0;
  db_->get()->GetIntProperty("rocksdb.is-write-stopped", &stopped);
  if (stopped) return Status::Unavailable("storage has stopped writes (compaction backlog)");
  // After a failed write of its log, a flush or a compaction, RocksDB refuses writes
  // until it recovers: by itself from a full disk that has room again, only by being
  // opened again from an I/O error in its log. Neither the last commit's failure nor
  // the count of background errors (which never goes down) says whether it has
  // recovered since, so while either is set an empty write asks: RocksDB refuses it
  // in that state, and so does Db::Write while the log that failed is still in use.
  // A healthy store is not written to.
  db_->get()->GetIntProperty("rocksdb.background-errors", &errors);
  const Status last = sequencer_->last_write_status();
  if (last.ok() && errors == 0) return Status::OK();
  rocksdb::WriteBatch empty;
  const Status probe = db_->Write(rocksdb::WriteOptions(), &empty);
  if (probe.ok()) return Status::OK();
  return Status::Unavailable("storage refuses writes: " + probe.message());
}

}  // namespace jobstate::storage
