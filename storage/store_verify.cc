// Store::Verify and Store::Backup: the online checks and copies operators rely on.
#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include <rocksdb/utilities/backup_engine.h>

#include "engine/state_diff.h"
#include "storage/codec.h"
#include "storage/internal/commit_group.h"
#include "storage/internal/db.h"
#include "storage/internal/eta_history.h"
#include "storage/internal/keys.h"
#include "storage/internal/listing.h"
#include "storage/internal/refold.h"
#include "storage/rocks_status.h"
#include "storage/store.h"

namespace jobstate::storage {

namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Compares the eta_history family, record by record, with what the jobs add up to.
Status VerifyEtaHistory(const Db& db, const ReadSnapshot& snap, const EtaHistoryBuilder& history,
                        VerifyReport& report) {
  const auto want = history.Records();
  size_t i = 0, differ = 0;
  std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator(snap.Options(), db.cf(Cf::kEtaHistory)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    while (i < want.size() && want[i].first < key) ++i, ++differ;  // missing
    if (i < want.size() && want[i].first == key) {
      differ += want[i].second != it->value().ToStringView();
      ++i;
    } else {
      ++differ;  // a record no job explains
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan eta_history");
  differ += want.size() - i;
  if (differ > 0) {
    report.differences.push_back({"", "", "eta_history: " + std::to_string(differ) +
                                              " records differ from the jobs' lessons"});
  }
  return Status::OK();
}

// A forward-only cursor over one family for keys that mostly arrive in ascending order
// and close together (a job's feed entries): a few Next steps are much cheaper than a
// point read, which searches every level's index and block again.
class ForwardCursor {
 public:
  ForwardCursor(const Db& db, const rocksdb::ReadOptions& ro, Cf cf)
      : it_(db.get()->NewIterator(ro, db.cf(cf))) {}
  // The value stored under `key`, or nullopt; an iterator error as a Status.
  Result<std::optional<std::string_view>> Find(const std::string& key) {
    const rocksdb::Slice target(key);
    int steps = 0;
    while (it_->Valid() && it_->key().compare(target) < 0 && steps++ < kMaxSteps) it_->Next();
    // Past the target without a step (keys went back), or still short of it: seek.
    if (!it_->Valid() || it_->key().compare(target) < 0 ||
        (steps == 0 && it_->key().compare(target) > 0)) {
      it_->Seek(target);
    }
    if (!it_->status().ok()) return Err(FromRocks(it_->status(), "scan the feed"));
    if (!it_->Valid() || it_->key() != target) return std::optional<std::string_view>();
    return std::optional<std::string_view>(it_->value().ToStringView());
  }

 private:
  static constexpr int kMaxSteps = 8;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// What verifying one job found: its differences and events.
struct JobCheck {
  std::vector<VerifyDifference> differences;
  uint64_t events = 0;
};

// The iterators a verifying thread keeps from job to job, all at one snapshot. It
// takes jobs in ascending jid order, so each job's seek in a family keyed by jid starts
// from where the last one ended (within the same block, RocksDB skips the index).
struct JobIterators {
  JobIterators(const Db& db, const rocksdb::ReadOptions& ro)
      : feed(db, ro, Cf::kLogByOrg),
        dedupe(db.get()->NewIterator(ro, db.cf(Cf::kDedupe))),
        checkpoints(db.get()->NewIterator(ro, db.cf(Cf::kCheckpoints))),
        events(db.get()->NewIterator(ro, db.cf(Cf::kEvents))),
        files(db.get()->NewIterator(ro, db.cf(Cf::kFiles))),
        files_by_status(db.get()->NewIterator(ro, db.cf(Cf::kFilesByStatus))),
        file_ids(db.get()->NewIterator(ro, db.cf(Cf::kFileIds))) {}
  ForwardCursor feed;
  std::unique_ptr<rocksdb::Iterator> dedupe, checkpoints, events, files, files_by_status,
      file_ids;
};

// The families of the job listing, whose entries a whole-store verify counts.
constexpr Cf kListingFamilies[] = {Cf::kJobsByOrg, Cf::kJobsByOrgStatus,
                                   Cf::kJobsByOrgFilter};

size_t ListingIndex(Cf cf) {
  return static_cast<size_t>(
      std::find(std::begin(kListingFamilies), std::end(kListingFamilies), cf) -
      std::begin(kListingFamilies));
}

// What the verified jobs add up to, summed per thread and then merged.
struct JobTotals {
  LogCounters counted;        // the job counts and accuracy totals
  EtaHistoryBuilder history;  // the ETA's priors
  // Listing entries of the jobs found in each of kListingFamilies (stale ones too):
  // any other entry there names no job, or a job where it does not belong.
  std::array<uint64_t, std::size(kListingFamilies)> listed{};
};

// Counts the entries no verified job accounts for in each listing family: a stray
// entry would list a job that does not exist (a `500` on the listing) or one under a
// collection or job type it does not have, which the per-job checks cannot see.
Status VerifyListingTotals(const Db& db, const ReadSnapshot& snap,
                           const JobTotals& totals, VerifyReport& report) {
  for (Cf cf : kListingFamilies) {
    uint64_t stored = 0;
    std::unique_ptr<rocksdb::Iterator> it(
        db.get()->NewIterator(snap.Options(), db.cf(cf)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++stored;
    if (!it->status().ok())
      return FromRocks(it->status(), "scan " + std::string(CfName(cf)));
    const uint64_t explained = totals.listed[ListingIndex(cf)];
    if (stored > explained) {
      report.differences.push_back(
          {"", "",
           std::string(CfName(cf)) + ": " + std::to_string(stored - explained) +
               (stored - explained == 1 ? " entry" : " entries") + " no job explains"});
    }
  }
  return Status::OK();
}

// Compares one job's stored derived records with a fresh fold; notes what differs in
// `check`, and adds the job's status, accuracy, lesson and listing entries to `totals`.
Status VerifyJob(const Db& db, const ReadSnapshot& snap, JobIterators& its, uint64_t jid,
                 const std::string& org, const std::string& job_id,
                 size_t scanned_dedupe_limit, JobCheck& check, JobTotals& totals) {
  LogCounters& counted = totals.counted;
  EtaHistoryBuilder& history = totals.history;
  auto differ = [&](std::string what) {
    check.differences.push_back({org, job_id, std::move(what)});
  };
  ForwardCursor& feed_cursor = its.feed;
  // The job's dedupe entries in one pass (keyed by event id, not in stream order), held
  // in memory up to VerifyOptions::scanned_dedupe_limit and read one by one beyond.
  std::unordered_map<std::string, std::string> dedupe;
  size_t dedupe_stored = 0, dedupe_matched = 0;
  {
    const std::string prefix = keys::Job(jid);
    rocksdb::Iterator* it = its.dedupe.get();
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (++dedupe_stored <= scanned_dedupe_limit) {
        dedupe.emplace(it->key().ToString(), it->value().ToString());
      } else if (dedupe_stored == scanned_dedupe_limit + 1) {
        dedupe = {};  // too many to hold: count the rest only
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan dedupe");
  }
  const bool dedupe_scanned = dedupe_stored <= scanned_dedupe_limit;
  // Checkpoints to compare as the fold passes their versions.
  std::map<uint64_t, std::string> checkpoints;
  {
    const std::string prefix = keys::Job(jid);
    rocksdb::Iterator* it = its.checkpoints.get();
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      checkpoints.emplace(keys::TrailingFixed64(it->key().ToStringView()), it->value().ToString());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan checkpoints");
  }
  RefoldedJob job;
  Status s = RefoldJob(*its.events, jid, org, job_id, job,
                       [&](const engine::RecordedEvent& e, std::string_view record,
                           RefoldedJob& j) -> Status {
    ++check.events;
    const std::string dkey = keys::Dedupe(jid, e.event.event_id);
    std::optional<std::string> d;
    if (dedupe_scanned) {
      if (auto it = dedupe.find(dkey); it != dedupe.end()) d = std::move(it->second);
    } else {
      auto got = db.Get(Cf::kDedupe, dkey, snap.get());
      if (!got.has_value()) return got.error();
      d = std::move(*got);
    }
    dedupe_matched += d.has_value();
    const DedupeEntry want{e.version, e.position, e.recorded_at,
                           ContentHashOfRecord(record, e)};
    if (!d || *d != EncodeDedupe(want)) {
      differ("dedupe entry of event " + e.event.event_id + (d ? ": differs" : ": missing"));
    }
    auto feed = feed_cursor.Find(keys::OrgPosition(org, e.position));
    if (!feed.has_value()) return feed.error();
    if (!*feed || **feed != keys::JobVersion(jid, e.version)) {
      differ("feed entry of position " + std::to_string(e.position) +
             (*feed ? ": differs" : ": missing"));
    }
    if (auto cp = checkpoints.find(e.version); cp != checkpoints.end()) {
      auto stored =
          DecodeSnapshot(cp->second, {"checkpoints", keys::JobVersion(jid, e.version)});
      if (!stored.has_value()) {
        differ("checkpoint " + std::to_string(e.version) + ": " + stored.error().message());
      } else if (auto names = engine::DiffSnapshots(*stored, j.snap); !names.empty()) {
        differ("checkpoint " + std::to_string(e.version) + ": " + Join(names));
      }
      checkpoints.erase(cp);
    }
    return Status::OK();
  });
  if (!s.ok()) {
    differ("stream: " + s.message());
    return Status::OK();
  }
  for (const auto& [version, record] : checkpoints) {
    differ("checkpoint " + std::to_string(version) + ": beyond the stream");
  }
  if (dedupe_stored > dedupe_matched) {
    // An entry for an event the stream does not hold would answer its first real
    // append as a duplicate.
    differ("dedupe: " + std::to_string(dedupe_stored - dedupe_matched) +
           " entries no event of the stream explains");
  }

  // The snapshot.
  auto stored = db.Get(Cf::kSnapshots, keys::Job(jid), snap.get());
  if (!stored.has_value()) return stored.error();
  if (!*stored) {
    differ("snapshot: missing");
  } else {
    auto decoded = DecodeSnapshot(**stored, {"snapshots", keys::Job(jid)});
    if (!decoded.has_value()) {
      differ("snapshot: " + decoded.error().message());
    } else if (auto names = engine::DiffSnapshots(*decoded, job.snap); !names.empty()) {
      differ("snapshot: " + Join(names));
    }
  }
  ++counted.jobs_by_status[static_cast<size_t>(job.snap.status)];
  if (auto accuracy = engine::EtaAccuracyOf(job.snap)) counted.eta_accuracy.Add(*accuracy);
  if (job.final_event) history.Add(job.snap, job.final_event->first, job.final_event->second);
  auto listed = db.Get(Cf::kJobsByOrg, keys::OrgJob(org, job.snap.created_at, jid), snap.get());
  if (!listed.has_value()) return listed.error();
  if (!*listed) differ("listing entry: missing");
  totals.listed[ListingIndex(Cf::kJobsByOrg)] += listed->has_value();
  // Its entries in the listing indexes, under the job's status and no other: a stale
  // one would list the job under a status it left.
  for (size_t s = 0; s < engine::kJobStatusCount; ++s) {
    const auto status = static_cast<engine::JobStatus>(s);
    for (const ListingKey& entry : ListingEntries(job.snap, jid, status)) {
      auto found = db.Get(entry.cf, entry.key, snap.get());
      if (!found.has_value()) return found.error();
      totals.listed[ListingIndex(entry.cf)] += found->has_value();
      const std::string what =
          entry.cf == Cf::kJobsByOrgStatus ? "listing by status" : "listing by filter";
      if (status == job.snap.status && !*found) differ(what + ": missing");
      if (status != job.snap.status && *found) {
        differ(what + ": also under " + std::string(engine::Name(status)));
      }
    }
  }

  // File rows, in ordinal order, and their indexes.
  const std::vector<engine::FileRow>& rows = job.files.rows();
  const std::string prefix = keys::Job(jid);
  {
    rocksdb::Iterator* it = its.files.get();
    size_t i = 0;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next(), ++i) {
      const uint64_t ordinal = keys::TrailingFixed64(it->key().ToStringView());
      if (ordinal >= rows.size()) {
        differ("file " + std::to_string(ordinal) + ": not in the stream");
        continue;
      }
      auto row = DecodeFileRow(it->value().ToStringView(), {"files", it->key().ToStringView()});
      if (!row.has_value()) {
        differ("file " + std::to_string(ordinal) + ": " + row.error().message());
      } else if (auto names = engine::DiffFileRows(*row, rows[ordinal]); !names.empty()) {
        differ("file " + std::to_string(ordinal) + ": " + Join(names));
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan files");
    if (i != rows.size()) {
      differ("files: " + std::to_string(i) + " stored, " + std::to_string(rows.size()) +
             " in the stream");
    }
  }
  std::set<std::string> want_status, want_ids;
  for (const engine::FileRow& row : rows) {
    want_status.insert(keys::FileStatusKey(jid, row.status, row.ordinal));
    want_ids.insert(keys::FileId(jid, row.uri));
  }
  for (auto [cf, it, name, want] :
       {std::tuple{Cf::kFilesByStatus, its.files_by_status.get(), "status index",
                   &want_status},
        std::tuple{Cf::kFileIds, its.file_ids.get(), "uri index", &want_ids}}) {
    size_t extra = 0;
    std::set<std::string> missing = *want;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (missing.erase(it->key().ToString()) == 0) ++extra;
      if (cf == Cf::kFileIds) {
        // The uri entry names the row's ordinal.
        const uint64_t ordinal = keys::DecodeFixed64(it->value().data());
        if (it->value().size() != 8 || ordinal >= rows.size() ||
            keys::FileId(jid, rows[ordinal].uri) != it->key().ToStringView()) {
          differ(std::string(name) + ": an entry names the wrong file");
        }
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan index");
    if (!missing.empty() || extra) {
      differ(std::string(name) + ": " + std::to_string(missing.size()) + " missing, " +
             std::to_string(extra) + " extra");
    }
  }
  return Status::OK();
}

}  // namespace

Result<VerifyReport> Store::Verify(const VerifyOptions& options) const {
  ReadSnapshot snap(*db_);
  VerifyReport report;
  std::vector<std::tuple<uint64_t, std::string, std::string>> jobs;
  if (options.job) {
    auto jid = ResolveJob(options.job->first, options.job->second, snap.get());
    if (!jid.has_value()) return Err(jid.error());
    jobs.emplace_back(*jid, options.job->first, options.job->second);
  } else {
    std::unique_ptr<rocksdb::Iterator> it(db_->get()->NewIterator(snap.Options(), db_->cf(Cf::kJobs)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key = it->key().ToStringView();
      const size_t sep = key.find('\0');
      if (sep == std::string_view::npos || it->value().size() != 8) {
        return Err(Status::Corruption(keys::Describe("jobs", key) + ": malformed entry"));
      }
      jobs.emplace_back(keys::DecodeFixed64(it->value().data()), std::string(key.substr(0, sep)),
                        std::string(key.substr(sep + 1)));
    }
    if (!it->status().ok()) return Err(FromRocks(it->status(), "scan jobs"));
  }
  // Jobs are verified in parallel, each into its own JobCheck; every thread sums the
  // job counts, accuracy totals and lessons of its jobs, and the sums are merged after.
  const unsigned threads = std::max<unsigned>(
      1, std::min<size_t>(options.threads ? options.threads : std::thread::hardware_concurrency(),
                          jobs.size()));
  std::vector<JobCheck> checks(jobs.size());  // in the order of `jobs`, the report's
  std::vector<JobTotals> sums(threads);
  // Jobs are taken in ascending jid order (JobIterators).
  std::vector<size_t> by_jid(jobs.size());
  std::iota(by_jid.begin(), by_jid.end(), size_t{0});
  std::sort(by_jid.begin(), by_jid.end(), [&](size_t a, size_t b) {
    return std::get<0>(jobs[a]) < std::get<0>(jobs[b]);
  });
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;  // guards first_error, done and the progress callback
  Status first_error;
  uint64_t done = 0;
  auto fail = [&](Status st) {
    std::scoped_lock lock(mu);
    if (first_error.ok()) first_error = std::move(st);
    failed = true;
  };
  auto worker = [&](JobTotals& mine) {
    // Opened again every kJobsPerIterators jobs: iterators hold on to the tables they
    // read, and the online verify runs while the server compacts.
    constexpr size_t kJobsPerIterators = 1024;
    std::optional<JobIterators> its;
    size_t jobs_on_iterators = kJobsPerIterators;
    for (size_t n; !failed && (n = next.fetch_add(1)) < jobs.size();) {
      if (options.stop && options.stop->load()) {
        return fail(Status::Aborted("interrupted", "verification stopped"));
      }
      if (jobs_on_iterators++ == kJobsPerIterators) {
        its.reset();
        its.emplace(*db_, snap.Options());
        jobs_on_iterators = 1;
      }
      const size_t i = by_jid[n];
      const auto& [jid, org, job_id] = jobs[i];
      Status s = VerifyJob(*db_, snap, *its, jid, org, job_id,
                           options.scanned_dedupe_limit, checks[i], mine);
      if (!s.ok()) return fail(std::move(s));
      if (options.progress) {
        std::scoped_lock lock(mu);
        options.progress(++done, jobs.size());
      }
    }
  };
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker, std::ref(sums[t]));
    worker(sums[0]);
  }
  if (!first_error.ok()) return Err(first_error);
  for (JobCheck& check : checks) {
    ++report.jobs;
    report.events += check.events;
    for (auto& d : check.differences) report.differences.push_back(std::move(d));
  }
  JobTotals all;  // what the jobs add up to
  LogCounters& counted = all.counted;
  for (JobTotals& s : sums) {
    for (size_t i = 0; i < counted.jobs_by_status.size(); ++i) {
      counted.jobs_by_status[i] += s.counted.jobs_by_status[i];
    }
    counted.eta_accuracy.Add(s.counted.eta_accuracy);
    all.history.Merge(std::move(s.history));
    for (size_t i = 0; i < all.listed.size(); ++i) all.listed[i] += s.listed[i];
  }
  if (!options.job) {
    auto stored = db_->Get(Cf::kMeta, "jobs_by_status", snap.get());
    if (!stored.has_value()) return Err(stored.error());
    // No record is no job of any status: the first commit group writes it, so a data
    // dir opened and closed without an event has none (and Open reads it as zeros).
    std::array<int64_t, engine::kJobStatusCount> counts{};
    if ((*stored && !DecodeJobCounts(**stored, counts)) ||
        counts != counted.jobs_by_status) {
      report.differences.push_back({"", "", "meta jobs_by_status: differs from the jobs' statuses"});
    }
    auto accuracy = db_->Get(Cf::kMeta, "eta_accuracy", snap.get());
    if (!accuracy.has_value()) return Err(accuracy.error());
    engine::EtaAccuracyTotals totals;
    // A store that has never had a job complete may not have written the record.
    const bool none = !*accuracy && counted.eta_accuracy == engine::EtaAccuracyTotals{};
    if (!none && (!*accuracy || !DecodeEtaAccuracy(**accuracy, totals) ||
                  totals != counted.eta_accuracy)) {
      report.differences.push_back({"", "", "meta eta_accuracy: differs from the jobs' records"});
    }
    Status st = VerifyEtaHistory(*db_, snap, all.history, report);
    if (st.ok()) st = VerifyListingTotals(*db_, snap, all, report);
    if (!st.ok()) return Err(st);
  }
  return report;
}

Status Store::Backup(const std::string& dir) const {
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s =
      rocksdb::BackupEngine::Open(rocksdb::Env::Default(), rocksdb::BackupEngineOptions(dir), &raw);
  if (!s.ok()) return FromRocks(s, "open backup dir " + dir);
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  rocksdb::CreateBackupOptions create;
  create.flush_before_backup = true;  // a consistent cut without copying the WAL
  rocksdb::BackupID id = 0;
  s = engine->CreateNewBackup(create, db_->get(), &id);
  if (!s.ok()) return FromRocks(s, "back up into " + dir);
  return FromRocks(engine->VerifyBackup(id, /*verify_with_checksum=*/true), "verify backup");
}

}  // namespace jobstate::storage

namespace jobstate::storage {

engine::StoreStats Store::GetStats() const {
  engine::StoreStats s;
  s.jobs_by_status = sequencer_->jobs_by_status();
  s.eta_accuracy = sequencer_->eta_accuracy();
  s.queued_events = sequencer_->queued_events();
  s.last_position = sequencer_->last_position();
  rocksdb::DB* db = db_->get();
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    const Cf cf = static_cast<Cf>(i);
    auto property = [&](const std::string& name) {
      uint64_t v = 0;
      return db->GetIntProperty(db_->cf(cf), name, &v) ? v : 0;
    };
    engine::FamilyStats f{std::string(CfName(cf)), IsDerived(cf),
                          property(rocksdb::DB::Properties::kLiveSstFilesSize),
                          property(rocksdb::DB::Properties::kCurSizeAllMemTables),
                          property(rocksdb::DB::Properties::kEstimateNumKeys)};
    s.memtable_bytes += f.memtable_bytes;
    s.live_sst_bytes += f.live_sst_bytes;
    s.pending_compaction_bytes +=
        property(rocksdb::DB::Properties::kEstimatePendingCompactionBytes);
    s.families.push_back(std::move(f));
  }
  db->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &s.block_cache_bytes);
  db->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &s.write_stopped);
  db->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &s.delayed_write_rate);
  s.writable = CheckWritable().ok();
  rocksdb::VectorLogPtr wal;
  if (db->GetSortedWalFiles(wal).ok()) {
    for (const auto& f : wal) s.wal_bytes += f->SizeFileBytes();
  }
  return s;
}

}  // namespace jobstate::storage
