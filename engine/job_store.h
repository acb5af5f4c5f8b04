#pragma once
// JobStore: what the API layer needs of a data dir. storage::Store implements it on
// RocksDB; api/ sees only this interface (dependencies point inward).
//
// Thread safety: implementations are safe for concurrent use.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/append.h"
#include "engine/query.h"
#include "engine/state.h"
#include "engine/status.h"
#include "engine/status_view.h"

namespace jobstate::engine {

// GET /v2/jobs: an organisation's jobs, newest first.
struct JobQuery {
  std::vector<JobStatus> statuses;  // empty = any
  std::optional<std::string> collection_name;
  std::optional<JobType> job_type;
  std::optional<Millis> created_after, created_before;  // exclusive bounds
  // Resume after this (created_at, internal id) pair, from a previous page.
  std::optional<std::pair<Millis, uint64_t>> after;
  size_t limit = 50;
};

struct JobPage {
  std::vector<JobSnapshot> jobs;
  // Where the next page starts, or nullopt on the last page.
  std::optional<std::pair<Millis, uint64_t>> next;
};

class JobStore {
 public:
  using AppendCallback = std::function<void(Result<AppendResult>)>;
  virtual ~JobStore() = default;

  // Queues a batch; `done` runs exactly once, on a storage thread, when the batch is
  // durable or rejected (see storage::Sequencer::Submit for the codes).
  virtual void Submit(AppendRequest request, AppendCallback done) = 0;

  // NotFound ("job_not_found") when the organisation has no such job.
  virtual Result<JobSnapshot> GetSnapshot(const std::string& org,
                                          const std::string& job_id) const = 0;
  virtual Result<FilePage> ListFiles(const std::string& org, const std::string& job_id,
                                     const FileQuery& query) const = 0;
  virtual Result<JobPage> ListJobs(const std::string& org, const JobQuery& query) const = 0;
  virtual Result<std::vector<RecordedEvent>> ReadJobEvents(const std::string& org,
                                                           const std::string& job_id,
                                                           uint64_t from_version,
                                                           size_t limit) const = 0;
  // Up to `limit` entries of the global log with position > `after_position`.
  virtual Result<std::vector<LogEntry>> ReadLog(uint64_t after_position,
                                                size_t limit) const = 0;
  // Up to `limit` of the organisation's events with position > `after_position`, in
  // position order, in time proportional to the answer.
  virtual Result<std::vector<RecordedEvent>> ReadOrgLog(const std::string& org,
                                                        uint64_t after_position,
                                                        size_t limit) const = 0;
  // The job and a page of its files as of `as_of`, folded from the nearest checkpoint.
  // NotFound before the job's first event; InvalidArgument ("version_out_of_range") for a
  // version beyond the job's current one.
  virtual Result<HistoricalPage> ReadAsOf(const std::string& org, const std::string& job_id,
                                          const AsOf& as_of, const FileQuery& query) const = 0;
  // The ETA's prior for `job`'s (organisation, collection, job type) as it stood at `at`
  // (a time-travel read's instant), or as it stands now; nullopt when no such job has
  // completed yet, or when `job` is not running (only a running job shows an ETA).
  virtual Result<std::optional<EtaHistory>> GetEtaHistory(const JobSnapshot& job,
                                                          std::optional<Millis> at) const = 0;
  // Refolds jobs and compares them with what is stored (online; see storage::Store).
  virtual Result<VerifyReport> Verify(const VerifyOptions& options) const = 0;
  // A consistent, checked backup into `dir` while appends go on.
  virtual Status Backup(const std::string& dir) const = 0;
  // For metrics.
  virtual StoreStats GetStats() const = 0;
  // OK when the store accepts writes (for /readyz); Unavailable otherwise.
  virtual Status CheckWritable() const = 0;
};

// The status of `job` at `now` (engine/status_view.h), with the ETA's prior read from
// `store`: as it stood at `now` for a time-travel read (`historical`), as it stands for
// a live one.
Result<JobStatusView> ReadStatusView(const JobStore& store, const JobSnapshot& job, Millis now,
                                     bool historical, const ViewOptions& options);

}  // namespace jobstate::engine
