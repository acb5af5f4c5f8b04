#pragma once
// Store: a Jobstate data dir on RocksDB. Appends go through the Sequencer; reads go
// straight to RocksDB and never wait for it.
//
// Thread safety: safe for concurrent use.

#include <atomic>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "engine/append.h"
#include "engine/clock.h"
#include "engine/job_store.h"
#include "engine/query.h"
#include "engine/state.h"
#include "engine/status.h"
#include "storage/sequencer.h"

namespace rocksdb {
class Snapshot;
}

namespace jobstate::storage {

class Db;

using engine::VerifyDifference;
using engine::VerifyOptions;
using engine::VerifyReport;

struct StoreOptions {
  std::string path;                // the data dir (RocksDB lives in it directly)
  bool create_if_missing = true;   // Default: true
  size_t block_cache_bytes = 128 << 20;  // Default: 128 MiB
  size_t memtable_bytes = 256 << 20;     // Default: 256 MiB across families
  SequencerOptions sequencer;
  std::shared_ptr<rocksdb::Env> env = nullptr;  // null: the default; see DbOptions::env
  // Default: false. True: opens the data dir beside the server that holds it, as a
  // RocksDB secondary instance (its own files in a temporary directory, removed at
  // close). Reads see the store as it was at the open. Submit answers
  // FailedPrecondition ("read_only"); the open neither upgrades an older format nor
  // creates anything, and the close writes nothing.
  bool read_only = false;
};

// What opening a data dir of an older format did to bring it up to date.
struct FormatUpgrade {
  std::string from, to;
  uint64_t jobs = 0;  // jobs whose derived records were added
  double seconds = 0;
};

class Store final : public engine::JobStore {
 public:
  // Opens the data dir and starts the sequencer. Unavailable when another process holds
  // it (unless read_only); Corruption when its format is not one this build reads;
  // FailedPrecondition when a replay did not finish ("replay_unfinished") or, read
  // only, when the format is older than this build's ("upgrade_needed").
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options,
                                             const engine::Clock& clock);
  // Commits what is queued, writes the memtables out, then closes the database.
  ~Store();

  // The upgrade this open made to an older data dir, if it made one (for the log).
  const std::optional<FormatUpgrade>& upgrade() const { return upgrade_; }
  // Whether it was opened read-only, beside the server (StoreOptions::read_only).
  bool read_only() const { return !secondary_dir_.empty(); }

  // Queues a batch; see Sequencer::Submit for the callback's contract.
  void Submit(engine::AppendRequest request, AppendCallback done) override;
  // Submit, waiting for the answer.
  Result<engine::AppendResult> Append(engine::AppendRequest request);

  // The job's snapshot. NotFound ("job_not_found") when the organisation has no such job.
  Result<engine::JobSnapshot> GetSnapshot(const std::string& org,
                                          const std::string& job_id) const override;
  // One seek in eta_history (storage/internal/eta_history.h).
  Result<std::optional<engine::EtaHistory>> GetEtaHistory(
      const engine::JobSnapshot& job, std::optional<engine::Millis> at) const override;

  // A page of the job's files, optionally filtered by status, read from one consistent
  // RocksDB snapshot in time proportional to the page. REQUIRES: limit >= 1.
  Result<engine::FilePage> ListFiles(const std::string& org, const std::string& job_id,
                                     const engine::FileQuery& query) const override;

  // The organisation's jobs, newest first, filtered. The status, collection and job
  // type filters read the listing indexes (storage/internal/listing.h), so a page costs
  // the page, not the jobs of other statuses, collections or types passed over.
  Result<engine::JobPage> ListJobs(const std::string& org,
                                   const engine::JobQuery& query) const override;

  // Up to `limit` events of the job's stream from version `from_version` (>= 1).
  Result<std::vector<engine::RecordedEvent>> ReadJobEvents(const std::string& org,
                                                           const std::string& job_id,
                                                           uint64_t from_version,
                                                           size_t limit) const override;

  // Up to `limit` entries of the global log with position > `after_position`.
  Result<std::vector<engine::LogEntry>> ReadLog(uint64_t after_position,
                                                size_t limit) const override;

  // Up to `limit` of the organisation's events with position > `after_position`.
  Result<std::vector<engine::RecordedEvent>> ReadOrgLog(const std::string& org,
                                                        uint64_t after_position,
                                                        size_t limit) const override;

  // The job and a page of its files as of a version or instant (store_history.cc).
  // With a status filter the page scans the files of that time in ordinal order.
  Result<engine::HistoricalPage> ReadAsOf(const std::string& org, const std::string& job_id,
                                          const engine::AsOf& as_of,
                                          const engine::FileQuery& query) const override;

  // Refolds jobs from their events and compares snapshots, file rows, their uri and
  // status indexes, dedupe entries, listings, feed entries and checkpoints with what is
  // stored, all from one consistent RocksDB snapshot (safe while appends go on).
  // NotFound for an unknown job.
  Result<VerifyReport> Verify(const VerifyOptions& options) const override;

  // A consistent backup into `dir` with RocksDB's BackupEngine (incremental: files
  // already in `dir` are shared), while appends go on; then checks the new backup's
  // files against their checksums.
  Status Backup(const std::string& dir) const override;

  // Unavailable when RocksDB has stopped writes or recorded a background error.
  Status CheckWritable() const override;

  // The position of the last committed event.
  uint64_t last_position() const { return sequencer_->last_position(); }

  // For metrics: the sequencer's counters and RocksDB's figures.
  engine::StoreStats GetStats() const override;

 private:
  Store() = default;
  Result<uint64_t> ResolveJob(const std::string& org, const std::string& job_id,
                              const rocksdb::Snapshot* snapshot) const;
  Result<engine::JobSnapshot> LoadSnapshot(uint64_t jid,
                                           const rocksdb::Snapshot* snapshot) const;

  std::unique_ptr<Db> db_;
  std::unique_ptr<Sequencer> sequencer_;
  std::optional<FormatUpgrade> upgrade_;
  std::string secondary_dir_;  // the secondary instance's files; empty unless read_only
};

}  // namespace jobstate::storage
