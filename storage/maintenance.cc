#include "storage/maintenance.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <rocksdb/utilities/backup_engine.h>

#include "storage/codec.h"
#include "storage/internal/commit_group.h"
#include "storage/internal/db.h"
#include "storage/internal/eta_history.h"
#include "storage/internal/keys.h"
#include "storage/internal/listing.h"
#include "storage/internal/refold.h"
#include "storage/internal/sorted_files.h"
#include "storage/rocks_status.h"

namespace jobstate::storage {

namespace {

// Writes derived records in large batches without the WAL: a crash loses them, and
// the replay marker makes sure nobody reads what is left. With a SortedFiles, the
// families keyed by job go to its sorted files instead, one job at a time (EndJob).
class BulkWriter {
 public:
  explicit BulkWriter(const Db& db, SortedFiles* sorted = nullptr, size_t sorted_job_bytes = 0)
      : db_(db), sorted_(sorted), sorted_job_bytes_(sorted_job_bytes) {
    wo_.disableWAL = true;
  }
  // By value: records bound for the sorted files are moved there, not copied.
  void Put(Cf cf, std::string key, std::string value) {
    if (sorted_ && !job_unsorted_ && KeyedByJob(cf)) {
      sorted_->Put(cf, std::move(key), std::move(value));
      if (sorted_->buffered_bytes() > sorted_job_bytes_) {
        // Too large a job to sort in memory: it goes through the memtables.
        job_unsorted_ = true;
        for (auto& [c, record] : sorted_->TakeBuffered()) {
          Put(c, std::move(record.first), std::move(record.second));
        }
      }
      return;
    }
    batch_.Put(db_.cf(cf), key, value).PermitUncheckedError();
  }
  // The job's records are all put: its sorted ones are written out.
  Status EndJob() {
    job_unsorted_ = false;
    return sorted_ ? sorted_->EndJob() : Status::OK();
  }
  Status MaybeFlush() { return batch_.GetDataSize() >= (8 << 20) ? Flush() : Status::OK(); }
  Status Flush() {
    if (batch_.Count() == 0) return Status::OK();
    Status s = FromRocks(db_.get()->Write(wo_, &batch_), "write derived records");
    batch_.Clear();
    return s;
  }

 private:
  const Db& db_;
  SortedFiles* sorted_;
  size_t sorted_job_bytes_;
  bool job_unsorted_ = false;
  rocksdb::WriteOptions wo_;
  rocksdb::WriteBatch batch_;
};

// jid -> (org, job_id), from the jobs family; jids are dense from 1.
Result<std::vector<std::pair<std::string, std::string>>> JobNames(const Db& db) {
  std::vector<std::pair<std::string, std::string>> names;
  std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator({}, db.cf(Cf::kJobs)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    const size_t sep = key.find('\0');
    if (sep == std::string_view::npos || it->value().size() != 8) {
      return Err(Status::Corruption(keys::Describe("jobs", key) + ": malformed entry"));
    }
    const uint64_t jid = keys::DecodeFixed64(it->value().data());
    if (jid >= names.size()) names.resize(jid + 1);
    names[jid] = {std::string(key.substr(0, sep)), std::string(key.substr(sep + 1))};
  }
  if (!it->status().ok()) return Err(FromRocks(it->status(), "scan jobs"));
  return names;
}

constexpr std::string_view kReplayMarker = "replay";

}  // namespace

Result<ReplayStats> Replay(const std::string& path, const ReplayOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  DbOptions db_options;
  db_options.path = path;
  db_options.create_if_missing = false;
  db_options.memtable_filters = false;  // replay writes the derived families, never probes them
  auto opened = Db::Open(db_options);
  if (!opened.has_value()) return Err(opened.error());
  Db& db = **opened;
  auto format = db.Get(Cf::kMeta, "format");
  if (!format.has_value()) return Err(format.error());
  if (!*format) return Err(Status::InvalidArgument("not_a_data_dir", path + " holds no Jobstate data"));

  rocksdb::WriteOptions synced;
  synced.sync = true;
  Status s = FromRocks(db.get()->Put(synced, db.cf(Cf::kMeta), std::string(kReplayMarker), "running"),
                       "mark replay");
  std::vector<Cf> derived;
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    if (IsDerived(static_cast<Cf>(i))) derived.push_back(static_cast<Cf>(i));
  }
  if (s.ok()) s = db.Recreate(derived);
  if (!s.ok()) return Err(s);

  uint64_t events_total = 0;
  {
    std::unique_ptr<rocksdb::Iterator> last(db.get()->NewIterator({}, db.cf(Cf::kLog)));
    last->SeekToLast();
    if (last->Valid()) events_total = keys::DecodeFixed64(last->key().data());
  }
  auto names = JobNames(db);
  if (!names.has_value()) return Err(names.error());

  // Work items, taken in order by every worker thread: item 0 is the organisation feed
  // index (one pass over the log), item j >= 1 is job j. A job's derived records depend
  // on its stream alone, so jobs fold independently; each worker writes its own
  // batches (RocksDB takes concurrent memtable writes).
  std::atomic<uint64_t> next_item{0}, events_done{0}, jobs_done{0};
  std::atomic<bool> failed{false};
  std::mutex mu;  // guards first_error, jobs_by_status, the ETA's totals and progress reports
  Status first_error;
  std::array<int64_t, engine::kJobStatusCount> jobs_by_status{};
  engine::EtaAccuracyTotals eta_accuracy;
  EtaHistoryBuilder eta_history;
  uint64_t next_report = 50'000;
  const uint64_t k = options.checkpoint_interval;

  auto fail = [&](Status st) {
    std::scoped_lock lock(mu);
    if (first_error.ok()) first_error = std::move(st);
    failed = true;
  };
  auto report = [&](uint64_t done) {
    if (!options.progress || done < next_report) return;
    std::scoped_lock lock(mu);
    if (done < next_report) return;
    next_report = done + 50'000;
    options.progress({done, events_total, jobs_done.load()});
  };

  const unsigned threads = options.threads ? options.threads
                                           : std::max(1u, std::thread::hardware_concurrency());
  // The families keyed by job are written as sorted files per worker and ingested at
  // the end (storage/internal/sorted_files.h); a replay that died leaves its files here.
  const std::string sorted_dir = path + "/replay-sorted";
  std::error_code ec;
  std::filesystem::remove_all(sorted_dir, ec);
  if (!ec) std::filesystem::create_directories(sorted_dir, ec);
  if (ec) return Err(Status::Internal("prepare " + sorted_dir + ": " + ec.message()));
  FeedFiles feed_files(db, sorted_dir);
  auto feed_index = [&](BulkWriter& out) -> Status {
    std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator({}, db.cf(Cf::kLog)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view value = it->value().ToStringView();
      if (value.size() < 16) {
        return Status::Corruption(keys::Describe("log", it->key().ToStringView()) +
                                  ": malformed entry");
      }
      const uint64_t position = keys::DecodeFixed64(it->key().data());
      const std::string_view org = value.substr(16), entry = value.substr(0, 16);
      const std::string key = keys::OrgPosition(org, position);
      auto filed = feed_files.Put(org, key, entry);
      if (!filed.has_value()) return filed.error();
      if (*filed) continue;
      out.Put(Cf::kLogByOrg, key, std::string(entry));
      Status st = out.MaybeFlush();
      if (!st.ok()) return st;
    }
    Status st = FromRocks(it->status(), "scan log");
    return st.ok() ? feed_files.Finish() : st;
  };

  // `saved` keeps, by ordinal, the record of each row as the last checkpoint wrote it:
  // a row unchanged since is not encoded again at the end.
  auto one_job = [&](uint64_t jid, rocksdb::Iterator& events, BulkWriter& out,
                     RefoldedJob& job, std::vector<std::string>& saved) -> Status {
    const auto& [org, job_id] = (*names)[jid];
    if (job_id.empty() && org.empty()) return Status::OK();  // a jid never committed
    job.files = TrackingFileTable();
    saved.clear();
    // Events are counted into the shared total 1,024 at a time and at the job's end,
    // not with an atomic add per event on a cache line every worker writes.
    uint64_t uncounted = 0;
    auto count = [&] {
      report(events_done.fetch_add(uncounted) + uncounted);
      uncounted = 0;
    };
    Status st = RefoldJob(events, jid, org, job_id, job,
                          [&](const engine::RecordedEvent& e, std::string_view record,
                              RefoldedJob& j) -> Status {
      out.Put(Cf::kDedupe, keys::Dedupe(jid, e.event.event_id),
              EncodeDedupe({e.version, e.position, e.recorded_at,
                            ContentHashOfRecord(record, e)}));
      if (k > 0 && e.version % k == 0) {
        // A checkpoint, and every row changed since the previous one as of it: what
        // time travel needs to start a fold here.
        out.Put(Cf::kCheckpoints, keys::JobVersion(jid, e.version), EncodeSnapshot(j.snap));
        saved.resize(j.files.rows().size());
        for (uint64_t ordinal : j.files.changed()) {
          saved[ordinal] = EncodeFileRow(j.files.rows()[ordinal]);
          out.Put(Cf::kFileVersions, keys::FileVersion(jid, ordinal, e.version), saved[ordinal]);
        }
        j.files.Forget();
      }
      if (++uncounted == 1024) count();
      return out.MaybeFlush();
    });
    count();
    if (!st.ok() || job.snap.version == 0) return st;
    out.Put(Cf::kSnapshots, keys::Job(jid), EncodeSnapshot(job.snap));
    out.Put(Cf::kJobsByOrg, keys::OrgJob(org, job.snap.created_at, jid), "");
    for (ListingKey& entry : ListingEntries(job.snap, jid, job.snap.status)) {
      out.Put(entry.cf, std::move(entry.key), "");
    }
    for (const engine::FileRow& row : job.files.rows()) {
      const bool changed = job.files.Changed(row.ordinal);
      std::string record = changed || row.ordinal >= saved.size()
                               ? EncodeFileRow(row)
                               : std::move(saved[row.ordinal]);
      if (changed) {
        // The rows as of the stream's end, like a commit group's end.
        out.Put(Cf::kFileVersions, keys::FileVersion(jid, row.ordinal, job.snap.version), record);
      }
      out.Put(Cf::kFiles, keys::File(jid, row.ordinal), std::move(record));
      out.Put(Cf::kFileIds, keys::FileId(jid, row.uri), keys::Fixed64(row.ordinal));
      out.Put(Cf::kFilesByStatus, keys::FileStatusKey(jid, row.status, row.ordinal), "");
    }
    {
      std::scoped_lock lock(mu);
      ++jobs_by_status[static_cast<size_t>(job.snap.status)];
      if (auto accuracy = engine::EtaAccuracyOf(job.snap)) eta_accuracy.Add(*accuracy);
      if (job.final_event) eta_history.Add(job.snap, job.final_event->first, job.final_event->second);
    }
    ++jobs_done;
    return out.MaybeFlush();
  };

  std::vector<SortedFiles> sorted;
  sorted.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) sorted.emplace_back(db, sorted_dir, t);
  auto worker = [&](SortedFiles& files) {
    BulkWriter out(db, &files, options.sorted_job_bytes);
    // One iterator over the events for this worker's jobs, which come in ascending jid
    // order, opened again every options.jobs_per_iterator jobs.
    const uint64_t jobs_per_iterator = std::max<uint64_t>(options.jobs_per_iterator, 1);
    std::unique_ptr<rocksdb::Iterator> events;
    uint64_t jobs_on_iterator = jobs_per_iterator;
    RefoldedJob job;
    std::vector<std::string> saved;
    for (uint64_t item; !failed && (item = next_item.fetch_add(1)) < names->size();) {
      if (options.stop && options.stop->load()) {
        fail(Status::Aborted("interrupted", "replay stopped; run it again to finish"));
        return;
      }
      if (item != 0 && jobs_on_iterator++ == jobs_per_iterator) {
        events.reset(db.get()->NewIterator({}, db.cf(Cf::kEvents)));
        jobs_on_iterator = 1;
      }
      Status st = item == 0 ? feed_index(out) : one_job(item, *events, out, job, saved);
      if (st.ok() && item != 0) st = out.EndJob();
      if (!st.ok()) return fail(std::move(st));
    }
    Status st = out.Flush();
    if (st.ok()) st = files.Finish();
    if (!st.ok()) fail(std::move(st));
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker, std::ref(sorted[t]));
  worker(sorted[0]);
  for (auto& t : pool) t.join();
  if (first_error.ok()) {
    // The ETA's prior, summed over every job's lesson, goes to a sorted file of its own,
    // written on a thread while the workers' files are ingested (which mostly waits on
    // the disk).
    SortedFiles history_files(db, sorted_dir, threads);
    Status history_status;
    std::thread history([&] {
      for (auto& [key, value] : eta_history.Records()) {
        history_files.Put(Cf::kEtaHistory, std::move(key), std::move(value));
      }
      history_status = history_files.EndJob();
      if (history_status.ok()) history_status = history_files.Finish();
    });
    for (size_t t = 0; t < sorted.size() && first_error.ok(); ++t) {
      first_error = IngestSortedFiles(db, sorted[t], t == 0 ? &feed_files : nullptr);
    }
    history.join();
    if (first_error.ok()) first_error = history_status;
    if (first_error.ok()) first_error = IngestSortedFiles(db, history_files);
  }
  std::filesystem::remove_all(sorted_dir, ec);
  if (!first_error.ok()) return Err(first_error);
  ReplayProgress progress{events_done.load(), events_total, jobs_done.load()};
  BulkWriter out(db);
  out.Put(Cf::kMeta, "jobs_by_status", EncodeJobCounts(jobs_by_status));
  // Every derived family this build keeps is now there, whatever the dir held before.
  out.Put(Cf::kMeta, "format", std::string(kDataFormat));
  // Like the commit path, which writes the totals once a completed job adds to them.
  if (eta_accuracy != engine::EtaAccuracyTotals{}) {
    out.Put(Cf::kMeta, "eta_accuracy", EncodeEtaAccuracy(eta_accuracy));
  }
  s = out.Flush();
  if (!s.ok()) return Err(s);
  // Make the derived records durable (they bypassed the WAL), then lift the mark.
  s = db.FlushAll();
  if (s.ok()) {
    s = FromRocks(db.get()->Delete(synced, db.cf(Cf::kMeta), std::string(kReplayMarker)),
                  "clear replay mark");
  }
  if (!s.ok()) return Err(s);
  if (options.progress) options.progress(progress);
  ReplayStats stats;
  stats.events = progress.events_done;
  stats.jobs = progress.jobs_done;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

Status Restore(const std::string& backup_dir, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_empty(path, ec)) {
    return Status::InvalidArgument("target_not_empty",
                                   path + " is not empty; restore into a new data dir");
  }
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (!s.ok()) return FromRocks(s, "open backup " + backup_dir);
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  s = engine->RestoreDBFromLatestBackup(path, path);
  return FromRocks(s, "restore from " + backup_dir);
}

}  // namespace jobstate::storage
