#pragma once
// JobStatusView: the job status of API.md (`GET /v2/jobs/{id}`), computed from a
// snapshot and the reader's instant. Every time-dependent field (elapsed_seconds,
// stalled, the ETA) is evaluated at `now`, so a read is a pure function of the stored
// state and that instant (the engine's clock, or a time-travel read's `as_of`).
//
// The files page is not part of the view: it comes from the file rows (JobStore).
//
// Thread safety: free functions over values.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/event.h"
#include "engine/state.h"

namespace jobstate::engine {

struct ViewOptions {
  Millis stall_after_ms = 120'000;  // Default: 120 s without an event marks `stalled`
  EtaIntervalModel eta_interval;    // Default: the calibrated constants (engine/eta.h)
};

struct StageView {
  Stage name;
  StageStatus status;
  std::optional<Millis> started_at, completed_at;
};

struct ProgressView {
  std::optional<std::string> current_stage;  // a stage name, "cancelled", or null
  std::optional<std::string> stage_description;
  std::optional<int> stage_index;  // 1..6
  int stage_count = kStageCount;
  std::vector<StageView> stages;
  bool scan_complete = false;
  int64_t files_total = 0, files_processed = 0;
  int64_t files_queued = 0, files_processing = 0, files_completed = 0;
  int64_t files_failed = 0, files_skipped = 0, files_cancelled = 0;
  int64_t bytes_total = 0, bytes_done = 0;
  double percent = 0;  // one decimal
  std::optional<int64_t> elapsed_seconds;
  // ETA fields: the rate, the calibrated interval (engine/eta.h) and the completion
  // instant; null where there is no estimate.
  std::optional<double> files_per_second;
  std::optional<int64_t> eta_low_seconds, eta_high_seconds;
  std::optional<Millis> estimated_completion_at;
  bool stalled = false;
  std::optional<Millis> last_event_at;
};

struct ResultView {
  int64_t files_indexed = 0, files_failed = 0, files_skipped = 0, files_cancelled = 0;
  std::optional<int64_t> duration_seconds;
  std::vector<std::string> warnings;
  int64_t chunks = 0, tokens = 0;
  std::string extra_json;  // further members of the final event's `result`, or empty
  std::optional<EtaAccuracy> eta_accuracy;  // completed jobs (engine/eta.h)
};

struct BillingView {
  Money cost;
  double credits_used = 0, credits_remaining = 0;
  double rate_per_credit = 0;
  std::string rate_currency;
  ProcessingType processing_type = ProcessingType::kBasic;
  int64_t pages_processed = 0;
};

struct JobStatusView {
  std::string job_id;
  JobStatus status = JobStatus::kPending;
  std::string collection_name;
  JobType job_type = JobType::kIndexS3;
  std::string progress_message;
  ProgressView progress;
  std::optional<ResultView> result;    // once final
  std::optional<BillingView> billing;  // completed with a billed final event
  std::optional<std::string> error_code, error_message;
  std::optional<std::string> cancelled_by;
  std::optional<Millis> cancelled_at;
  Millis created_at = 0, updated_at = 0;
  std::optional<Millis> started_at, completed_at;
  // engine/eta.h's estimate; null until the job has evidence (a finished file).
  std::optional<int64_t> estimated_time_remaining_seconds;
  uint64_t version = 0;
};

// `prior`: the ETA's history for the job's (organisation, collection, job type) as it
// stood at `now` (JobStore::GetEtaHistory), or null when there is none.
// REQUIRES: snap.version >= 1.
JobStatusView BuildStatusView(const JobSnapshot& snap, Millis now,
                              const ViewOptions& options,
                              const EtaHistory* prior = nullptr);

// Credits per page by processing type: 1 for basic, 2.5 for advanced (API.md billing).
double CreditsPerPage(ProcessingType t);

}  // namespace jobstate::engine
