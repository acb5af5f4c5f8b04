#pragma once
// Shapes of the reads the storage answers.
//
// Thread safety: plain values.

#include <array>
#include <atomic>
#include <functional>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/event.h"
#include "engine/state.h"

namespace jobstate::engine {

// A page of a job's files in discovery (ordinal) order.
struct FileQuery {
  std::optional<uint64_t> after_ordinal;  // resume after this ordinal; none = from the start
  size_t limit = 50;
  std::vector<FileStatus> statuses;       // empty = every status
  // The caller already holds this page as of this version (a page is a function of the
  // job's version and the query): when the job is still at it, the rows are not read.
  std::optional<uint64_t> unless_version;
};

struct FilePage {
  JobSnapshot job;  // the job as of the same read, so status and page agree
  std::vector<FileRow> rows;
  bool has_more = false;
  int64_t total_matching = 0;  // files matching the filter, from the snapshot's counts
  bool rows_skipped = false;   // the job was at query.unless_version: rows and has_more unset
};

// Time travel: the job as it stood after its first `version` events, or after the
// events recorded at or before `instant`. Exactly one is set.
struct AsOf {
  std::optional<uint64_t> version;
  std::optional<Millis> instant;
};

// A job read as of a point in its past, with the instant its time-dependent fields are
// evaluated at (the N-th event's recorded_at, or the instant asked for).
struct HistoricalPage {
  FilePage page;
  Millis at = 0;
};

// What one committed group changed: the jobs whose streams grew (each with its new
// version) and the log's new end. Handed to StoreOptions::on_commit.
struct CommitNotice {
  struct Job {
    std::string org;
    std::string job_id;
    uint64_t version = 0;
  };
  std::vector<Job> jobs;
  uint64_t last_position = 0;
  // Whether the group changed an ETA prior (a job finished), which every running job's
  // estimate reads.
  bool priors_changed = false;
  // The group: its events and requests, and how long its write (with the WAL sync in
  // sync durability) took.
  size_t events = 0, requests = 0;
  double write_seconds = 0;
};

// One column family's share of the data dir (RocksDB's figures).
struct FamilyStats {
  std::string name;
  bool derived = false;  // rebuilt by replay from the log's truth
  uint64_t live_sst_bytes = 0, memtable_bytes = 0, estimated_keys = 0;
};

// What the store is doing and holding, for metrics; cheap to read at any time.
struct StoreStats {
  std::array<int64_t, kJobStatusCount> jobs_by_status{};
  EtaAccuracyTotals eta_accuracy;  // completed jobs
  size_t queued_events = 0;
  uint64_t last_position = 0;
  // RocksDB's own figures (properties summed over the column families).
  uint64_t memtable_bytes = 0, block_cache_bytes = 0, pending_compaction_bytes = 0;
  uint64_t live_sst_bytes = 0, wal_bytes = 0;
  std::vector<FamilyStats> families;  // in the families' open order
  uint64_t write_stopped = 0, delayed_write_rate = 0;
  bool writable = true;  // JobStore::CheckWritable() passes (what /readyz answers)
};

// One entry of the global log.
struct LogEntry {
  std::string org;
  RecordedEvent record;
};

// What JobStore::Verify found: every job refolded from its events and compared, record by
// record, with what is stored.
struct VerifyDifference {
  std::string org, job_id;
  std::string what;  // e.g. "snapshot: status, file_counts" or "file 3: status"
};
struct VerifyReport {
  uint64_t jobs = 0, events = 0;
  std::vector<VerifyDifference> differences;
};
struct VerifyOptions {
  // Only this job (org, job_id); every job when unset.
  std::optional<std::pair<std::string, std::string>> job;
  // Called after each job with (jobs done, jobs in all).
  std::function<void(uint64_t, uint64_t)> progress;
  const std::atomic<bool>* stop = nullptr;  // Aborted when it becomes true
  // Jobs verified at once, each by its own thread; 0: one per core. The report is the
  // same whatever the number (differences in job order).
  unsigned threads = 1;
  // A job's dedupe entries are read in one pass and held in memory (about 150 bytes
  // each) when it has at most this many; a larger job's are read one event at a time.
  size_t scanned_dedupe_limit = 200'000;
};

}  // namespace jobstate::engine
