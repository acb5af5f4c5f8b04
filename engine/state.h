#pragma once
// What the fold produces: one JobSnapshot per job (small, independent of the number of
// files) and one FileRow per discovered file, kept apart from the snapshot.
//
// Both are derived data: `jobctl replay` rebuilds them from the log, and their cereal
// encodings must be byte-identical however they were folded (incrementally, from
// scratch, after a restart). Hence no unordered containers and no floating point that
// depends on the order of folding.
//
// Thread safety: plain values.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "engine/eta.h"
#include "engine/event.h"
#include "engine/types.h"

namespace jobstate::engine {

struct StageState {
  StageStatus status = StageStatus::kPending;
  std::optional<Millis> started_at;
  std::optional<Millis> completed_at;
  bool operator==(const StageState&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(status, started_at, completed_at); }
};

struct JobSnapshot {
  // Identity.
  std::string org;
  std::string job_id;
  uint64_t version = 0;  // events folded so far

  // From job.created.
  std::string collection_name;
  JobType job_type = JobType::kIndexS3;
  std::optional<ProcessingType> processing_type;
  PipelineMode pipeline_mode = PipelineMode::kPipelined;
  std::optional<int64_t> files_expected;
  std::optional<std::string> metadata_json;

  // Lifecycle.
  JobStatus status = JobStatus::kPending;
  Millis created_at = 0;
  std::optional<Millis> started_at, completed_at, cancelled_at;
  Millis updated_at = 0;        // the last event's occurred_at
  Millis last_recorded_at = 0;  // the last event's recorded_at (for `stalled`)
  std::optional<std::string> progress_message;  // the last job.progress
  std::optional<std::string> error_code, error_message;  // job.failed
  std::optional<std::string> cancelled_by, cancel_reason;

  // Stages.
  std::array<StageState, kStageCount> stages{};
  int8_t current_stage = -1;  // furthest stage opened; -1 before the first
  bool scan_complete = false;

  // Files: counts by FileStatus (indexed by its value); they sum to files_total.
  std::array<int64_t, kFileStatusCount> file_counts{};
  int64_t bytes_total = 0;
  int64_t bytes_done = 0;  // sizes of files whose processing has ended
  int64_t chunks = 0, tokens = 0, pages = 0;  // summed over completed files
  int32_t percent_tenths = 0;  // high-water mark, 0..1000

  // Workers (job.workers).
  std::optional<int64_t> workers_count;
  std::vector<std::string> worker_ids;

  // Final event.
  std::optional<ResultData> result;
  std::optional<Billing> billing;

  // The ETA's work model (engine/eta.h).
  EtaState eta;

  int64_t files_total() const;
  int64_t files_processed() const;
  int64_t count(FileStatus s) const { return file_counts[static_cast<size_t>(s)]; }

  bool operator==(const JobSnapshot&) const = default;
  template <class A> void serialize(A& ar, uint32_t class_version) {
    ar(org, job_id, version, collection_name, job_type, processing_type, pipeline_mode,
       files_expected, metadata_json);
    ar(status, created_at, started_at, completed_at, cancelled_at, updated_at,
       last_recorded_at, progress_message, error_code, error_message, cancelled_by,
       cancel_reason);
    ar(stages, current_stage, scan_complete, file_counts, bytes_total, bytes_done, chunks,
       tokens, pages, percent_tenths, workers_count, worker_ids, result, billing);
    if (class_version >= 2) ar(eta);  // version 1 records predate the ETA model
  }
};

struct FileRow {
  uint64_t ordinal = 0;  // discovery order within the job, from 0
  std::string uri;
  std::optional<std::string> name;
  std::optional<int64_t> size_bytes;
  std::optional<std::string> content_type;

  FileStatus status = FileStatus::kQueued;
  std::optional<Stage> stage;  // in, last finished, or failed in
  FilePhase phase = FilePhase::kStarted;
  std::optional<std::string> progress_message;
  std::optional<std::string> error_code, error_message;
  std::optional<bool> retryable;
  std::optional<std::string> skip_reason;
  std::optional<std::string> cancel_reason;
  int32_t attempts = 0;
  std::optional<int64_t> chunks, tokens, pages;
  std::optional<Millis> started_at, completed_at;
  Millis updated_at = 0;
  std::optional<Millis> stage_started_at;  // when it entered its current stage (the ETA)

  bool operator==(const FileRow&) const = default;
  template <class A> void serialize(A& ar, uint32_t class_version) {
    ar(ordinal, uri, name, size_bytes, content_type, status, stage, phase,
       progress_message, error_code, error_message, retryable, skip_reason, cancel_reason);
    ar(attempts, chunks, tokens, pages, started_at, completed_at, updated_at);
    if (class_version >= 2) ar(stage_started_at);
  }
};

}  // namespace jobstate::engine

CEREAL_CLASS_VERSION(jobstate::engine::StageState, 1)
CEREAL_CLASS_VERSION(jobstate::engine::JobSnapshot, 2)
CEREAL_CLASS_VERSION(jobstate::engine::FileRow, 2)
