// Store::Verify and Store::Backup: the online checks and copies operators rely on.
#include <map>
#include <set>

#include <rocksdb/utilities/backup_engine.h>

#include "engine/state_diff.h"
#include "storage/codec.h"
#include "storage/internal/commit_group.h"
#include "storage/internal/db.h"
#include "storage/internal/eta_history.h"
#include "storage/internal/keys.h"
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

// Compares one job's stored derived records with a fresh fold; appends what differs.
Status VerifyJob(const Db& db, const ReadSnapshot& snap, uint64_t jid, const std::string& org,
                 const std::string& job_id, VerifyReport& report,
                 LogCounters& counted, EtaHistoryBuilder& history) {
  auto differ = [&](std::string what) {
    report.differences.push_back({org, job_id, std::move(what)});
  };
  const rocksdb::ReadOptions ro = snap.Options();
  // Checkpoints to compare as the fold passes their versions.
  std::map<uint64_t, std::string> checkpoints;
  {
    const std::string prefix = keys::Job(jid);
    std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator(ro, db.cf(Cf::kCheckpoints)));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      checkpoints.emplace(keys::TrailingFixed64(it->key().ToStringView()), it->value().ToString());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan checkpoints");
  }
  RefoldedJob job;
  Status s = RefoldJob(db, ro, jid, org, job_id, job,
                       [&](const engine::RecordedEvent& e, std::string_view record,
                           RefoldedJob& j) -> Status {
    ++report.events;
    const std::string dkey = keys::Dedupe(jid, e.event.event_id);
    auto d = db.Get(Cf::kDedupe, dkey, snap.get());
    if (!d.has_value()) return d.error();
    const DedupeEntry want{e.version, e.position, e.recorded_at,
                           ContentHashOfRecord(record, e)};
    if (!*d || **d != EncodeDedupe(want)) {
      differ("dedupe entry of event " + e.event.event_id + (*d ? ": differs" : ": missing"));
    }
    auto feed = db.Get(Cf::kLogByOrg, keys::OrgPosition(org, e.position), snap.get());
    if (!feed.has_value()) return feed.error();
    if (!*feed || **feed != keys::JobVersion(jid, e.version)) {
      differ("feed entry of position " + std::to_string(e.position) +
             (*feed ? ": differs" : ": missing"));
    }
    if (auto cp = checkpoints.find(e.version); cp != checkpoints.end()) {
      auto stored = DecodeSnapshot(cp->second, keys::Describe("checkpoints", keys::JobVersion(jid, e.version)));
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

  // The snapshot.
  auto stored = db.Get(Cf::kSnapshots, keys::Job(jid), snap.get());
  if (!stored.has_value()) return stored.error();
  if (!*stored) {
    differ("snapshot: missing");
  } else {
    auto decoded = DecodeSnapshot(**stored, keys::Describe("snapshots", keys::Job(jid)));
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

  // File rows, in ordinal order, and their indexes.
  const std::vector<engine::FileRow>& rows = job.files.rows();
  const std::string prefix = keys::Job(jid);
  {
    std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator(ro, db.cf(Cf::kFiles)));
    size_t i = 0;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next(), ++i) {
      const uint64_t ordinal = keys::TrailingFixed64(it->key().ToStringView());
      if (ordinal >= rows.size()) {
        differ("file " + std::to_string(ordinal) + ": not in the stream");
        continue;
      }
      auto row = DecodeFileRow(it->value().ToStringView(), keys::Describe("files", it->key().ToStringView()));
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
  for (auto [cf, name, want] : {std::tuple{Cf::kFilesByStatus, "status index", &want_status},
                                std::tuple{Cf::kFileIds, "uri index", &want_ids}}) {
    std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator(ro, db.cf(cf)));
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
  ReadSnapshot snap(db_->get());
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
  LogCounters counted;  // the job counts and accuracy totals the jobs add up to
  EtaHistoryBuilder history;  // the ETA's priors the jobs add up to
  for (const auto& [jid, org, job_id] : jobs) {
    if (options.stop && options.stop->load()) {
      return Err(Status::Aborted("interrupted", "verification stopped"));
    }
    Status s = VerifyJob(*db_, snap, jid, org, job_id, report, counted, history);
    if (!s.ok()) return Err(s);
    ++report.jobs;
    if (options.progress) options.progress(report.jobs, jobs.size());
  }
  if (!options.job) {
    auto stored = db_->Get(Cf::kMeta, "jobs_by_status", snap.get());
    if (!stored.has_value()) return Err(stored.error());
    std::array<int64_t, engine::kJobStatusCount> counts{};
    if (!*stored || !DecodeJobCounts(**stored, counts) || counts != counted.jobs_by_status) {
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
    Status st = VerifyEtaHistory(*db_, snap, history, report);
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
  auto sum = [&](const std::string& property) {
    uint64_t total = 0;
    for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
      uint64_t v = 0;
      if (db->GetIntProperty(db_->cf(static_cast<Cf>(i)), property, &v)) total += v;
    }
    return total;
  };
  s.memtable_bytes = sum(rocksdb::DB::Properties::kCurSizeAllMemTables);
  s.pending_compaction_bytes = sum(rocksdb::DB::Properties::kEstimatePendingCompactionBytes);
  s.live_sst_bytes = sum(rocksdb::DB::Properties::kLiveSstFilesSize);
  db->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &s.block_cache_bytes);
  db->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &s.write_stopped);
  db->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate, &s.delayed_write_rate);
  rocksdb::VectorLogPtr wal;
  if (db->GetSortedWalFiles(wal).ok()) {
    for (const auto& f : wal) s.wal_bytes += f->SizeFileBytes();
  }
  return s;
}

}  // namespace jobstate::storage
