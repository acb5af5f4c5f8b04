#pragma once
// CommitGroup: the requests the sequencer commits with one synced write.
//
// Add() validates and folds one request against the current state, assigns versions
// and positions, and stages everything it derives (events, log entries, dedupe
// entries, job ids, listings, checkpoints; file rows through GroupFiles). A request
// that fails is undone: nothing of it stays in the group. Seal() adds the snapshots of
// every touched job and the meta counters and builds the WriteBatch; Write() commits
// it; Publish() then moves the group's state into the shared caches.
//
// The current state is read, in order, from this group, its parent (the group being
// written while this one folds, or null), the caches of committed state, and RocksDB.
// The sequencer writes a group only after its parent's write succeeded.
//
// Thread safety: not thread-safe. The sequencer folds and seals on its thread; the
// writer thread only calls Write() on a sealed group.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <rocksdb/write_batch.h>

#include "engine/append.h"
#include "engine/query.h"
#include "engine/state.h"
#include "engine/status.h"
#include "storage/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/group_files.h"
#include "storage/internal/lru_cache.h"

namespace jobstate::storage {

// The sequencer's counters; the group advances a copy and hands it back on success.
struct LogCounters {
  uint64_t last_position = 0;
  uint64_t next_jid = 1;
  engine::Millis last_recorded_at = 0;
  // Jobs by JobStatus (indexed by its value), kept in meta "jobs_by_status".
  std::array<int64_t, engine::kJobStatusCount> jobs_by_status{};
  // Completed jobs' ETA accuracy, kept in meta "eta_accuracy".
  engine::EtaAccuracyTotals eta_accuracy;
};

// The meta encoding of LogCounters::jobs_by_status: one fixed64 per status.
std::string EncodeJobCounts(const std::array<int64_t, engine::kJobStatusCount>& counts);
bool DecodeJobCounts(std::string_view value, std::array<int64_t, engine::kJobStatusCount>& out);

// The meta encoding of LogCounters::eta_accuracy: per checkpoint, count, Σ|error| and
// the bucket counts, one fixed64 each.
std::string EncodeEtaAccuracy(const engine::EtaAccuracyTotals& totals);
bool DecodeEtaAccuracy(std::string_view value, engine::EtaAccuracyTotals& out);

// Caches of committed state shared across groups, for the work in progress: a job
// leaves when it becomes final and a file when its processing ends (Publish), so their
// size follows the running jobs and files in flight, not the store. Bounded in entries
// too, for a burst of more running work than they hold.
struct JobCache {
  JobCache(size_t jobs, size_t files) : names(jobs * 4), snapshots(jobs), file_rows(files) {}
  LruCache<std::string, uint64_t> names;              // org 0 job_id -> jid
  LruCache<uint64_t, engine::JobSnapshot> snapshots;  // jid -> snapshot
  FileRowCache file_rows;                             // FileId -> row
};

struct GroupOptions {
  engine::Millis max_clock_skew_ms = 300'000;  // Default: 300 s
  uint64_t checkpoint_interval = 1000;         // Default: a checkpoint every 1,000 versions
};

class CommitGroup {
 public:
  // `parent`, when given, must stay alive and unchanged until DetachParent().
  CommitGroup(const Db& db, JobCache& cache, const GroupOptions& options,
              LogCounters counters, engine::Millis now, const CommitGroup* parent);

  // Folds `request` (whose events it may normalize in place) into the group. On error
  // the group is exactly as before the call and the Status names the offending event.
  Result<engine::AppendResult> Add(engine::AppendRequest& request);

  // Stages snapshots and counters and builds the batch. REQUIRES: !empty().
  void Seal();
  // Forgets the parent; REQUIRES: sealed.
  void DetachParent() { parent_ = nullptr; files_.DetachParent(); }
  // Writes the sealed batch. Safe to call from another thread than the one that sealed.
  Status Write(const rocksdb::WriteOptions& write_options);
  // After a successful Write: the group's state becomes the caches'.
  void Publish();

  bool empty() const { return requests_ == 0; }
  // The jobs this group changed, with their new versions. REQUIRES: sealed.
  engine::CommitNotice Notice() const;
  const LogCounters& counters() const { return counters_; }

 private:
  struct Job {
    uint64_t jid = 0;
    engine::JobSnapshot snap;
    uint64_t start_version = 0;  // the committed version when the group first read it
    // Its status then, for its listing entries to move; none for a job this
    // group creates.
    std::optional<engine::JobStatus> start_status;
  };

  Result<engine::AppendedEvent> AddEvent(const engine::AppendRequest& request,
                                         engine::Event& e,
                                         const engine::AppendRequest::Imported* imported);
  Result<std::optional<uint64_t>> FindJid(const std::string& name);
  // The job named (org, job_id), copied into this group on first use; null if absent.
  Result<Job*> FindJob(const std::string& org, const std::string& job_id);
  Result<Job*> CreateJob(const std::string& org, const engine::Event& e);
  // Saves the job's state before this request first changes it, for Undo().
  void Remember(uint64_t jid);
  void Undo();
  void Stage(Cf cf, std::string key, std::string value);
  // A job completed at `position`: adds its lesson to its prior and stages the record.
  Status Teach(const engine::JobSnapshot& job, const engine::EtaHistory& learned,
               uint64_t position, engine::Millis recorded_at);
  // The dedupe entry of a (jid, event_id) key: staged here or in the parent, or stored.
  Result<std::optional<DedupeEntry>> FindDedupe(const std::string& key) const;

  const Db& db_;
  JobCache& cache_;
  const GroupOptions options_;  // a copy: callers pass temporaries
  const engine::Millis now_;
  const CommitGroup* parent_;
  LogCounters counters_;
  bool accuracy_changed_ = false;  // a job completed: Seal() stages meta "eta_accuracy"
  size_t requests_ = 0;
  size_t events_ = 0;

  std::vector<StagedWrite> writes_;  // sorted and turned into batch_ by Seal()
  rocksdb::WriteBatch batch_;
  GroupFiles files_;
  std::map<uint64_t, Job> jobs_;                           // jid -> this group's state
  std::unordered_map<std::string, uint64_t> names_;        // org 0 job_id -> jid
  std::unordered_map<std::string, DedupeEntry> dedupe_;    // staged dedupe entries
  std::set<uint64_t> dirty_;                               // jobs a kept request changed
  std::map<std::string, engine::EtaHistory> history_;      // priors this group changed

  // Undo of the request being added.
  size_t saved_writes_ = 0;
  LogCounters saved_counters_;
  // Each prior the request changed, as the group held it before (nullopt: not held).
  std::map<std::string, std::optional<engine::EtaHistory>> history_undo_;
  std::map<uint64_t, std::optional<Job>> undo_;
  std::vector<std::string> new_names_;
  std::vector<std::string> new_dedupe_;
};

}  // namespace jobstate::storage
