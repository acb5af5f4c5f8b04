#pragma once
// CommitGroup: the requests the sequencer commits with one synced write.
//
// Add() validates and folds one request against the current state (the group's own
// earlier writes, the job cache, then RocksDB), assigns versions and positions, and
// stages everything it derives (events, log entries, dedupe entries, file rows and
// their indexes, job ids, listings, checkpoints) in one WriteBatchWithIndex. A request
// that fails is rolled back to a save point: nothing of it stays in the group.
// Commit() adds the snapshots of every touched job and the meta counters and writes
// the batch; Publish() then moves the snapshots into the job cache.
//
// Thread safety: not thread-safe; owned by the sequencer thread.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>


#include "engine/append.h"
#include "engine/state.h"
#include "engine/status.h"
#include "storage/internal/db.h"
#include "storage/internal/group_files.h"
#include "storage/internal/lru_cache.h"
#include "storage/codec.h"

namespace jobstate::storage {

// The sequencer's counters; the group advances a copy and hands it back on success.
struct LogCounters {
  uint64_t last_position = 0;
  uint64_t next_jid = 1;
  engine::Millis last_recorded_at = 0;
};

// Caches shared across groups. Bounded: entries, not jobs or files, set the memory.
struct JobCache {
  JobCache(size_t jobs, size_t files) : names(jobs * 4), snapshots(jobs), file_rows(files) {}
  LruCache<std::string, uint64_t> names;             // org 0 job_id -> jid
  LruCache<uint64_t, engine::JobSnapshot> snapshots;  // jid -> snapshot
  FileRowCache file_rows;                            // FileId -> row
};

struct GroupOptions {
  engine::Millis max_clock_skew_ms = 300'000;
  uint64_t checkpoint_interval = 1000;
};

class CommitGroup {
 public:
  CommitGroup(const Db& db, JobCache& cache, const GroupOptions& options,
              LogCounters counters, engine::Millis now);

  // Folds `request` into the group. On error the group is exactly as before the call
  // and the Status names the offending event (event_index, pointer).
  Result<engine::AppendResult> Add(const engine::AppendRequest& request);

  // Writes the group as one batch. REQUIRES: !empty().
  Status Commit(const rocksdb::WriteOptions& write_options);
  // After a successful Commit: makes the group's snapshots the cached ones.
  void Publish();

  bool empty() const { return requests_ == 0; }
  const LogCounters& counters() const { return counters_; }

 private:
  struct Job {
    uint64_t jid = 0;
    engine::JobSnapshot snap;
  };

  Result<engine::AppendedEvent> AddEvent(const engine::AppendRequest& request,
                                         const engine::Event& sent);
  // The job named (org, job_id): the group's copy, loaded on first use; nullptr when
  // it does not exist.
  Result<Job*> FindJob(const std::string& org, const std::string& job_id);
  Result<Job*> CreateJob(const std::string& org, const engine::Event& e);
  // Saves the job's state before this request first changes it, for rollback.
  void Remember(uint64_t jid);
  void Rollback();
  Status Stage(Cf cf, const std::string& key, const std::string& value);
  // The dedupe entry of (jid, event_id): staged in this group, or stored.
  Result<std::optional<DedupeEntry>> FindDedupe(const std::string& key);

  const Db& db_;
  JobCache& cache_;
  const GroupOptions& options_;
  const engine::Millis now_;
  // Writes of the requests kept so far, plus the current one's; sorted at Commit().
  std::vector<StagedWrite> writes_;
  size_t saved_writes_ = 0;
  GroupFiles files_;
  // Dedupe entries this group staged (the batch cannot be read back).
  std::unordered_map<std::string, DedupeEntry> dedupe_;
  std::vector<std::string> new_dedupe_;
  LogCounters counters_;
  size_t requests_ = 0;

  std::map<uint64_t, Job> jobs_;                     // jid -> the group's state
  std::unordered_map<std::string, uint64_t> names_;  // org 0 job_id -> jid
  std::set<uint64_t> dirty_;                         // jobs a kept request changed
  // Rollback of the request being added.
  std::map<uint64_t, std::optional<Job>> undo_;
  std::vector<std::string> new_names_;
  LogCounters saved_counters_;
};

}  // namespace jobstate::storage
