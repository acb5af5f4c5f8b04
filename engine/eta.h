#pragma once
// The ETA's work model, folded from events (issue #5, first model).
//
// Remaining work is a sum of per-file costs, cost = a + b·size per content type, fitted
// by least squares on this job's finished files (from `file.started` to the file's end)
// with a pooled fit over every type as the fallback. Read time divides the work still
// waiting (and what is left of the work in flight) by the worker lanes and adds a
// finalizing share. EtaState holds only sums, so it stays small and folds in O(1) per
// event; it is part of the snapshot and rebuilt by replay like everything else.
//
// Not yet (issue #5): a history prior across jobs, per-stage costs for stage-at-a-time
// pipelines, a display filter, and the calibrated interval; until there is evidence
// (a finished file) the estimate is null.
//
// Thread safety: plain values and free functions.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <cereal/cereal.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>

#include "engine/types.h"

namespace jobstate::engine {

struct FileRow;
struct JobSnapshot;

// One content type's files: what waits, what runs, and the fit of what finished.
struct EtaTypeStats {
  int64_t queued = 0, queued_bytes = 0;
  int64_t running = 0, running_bytes = 0;
  int64_t running_start_sum = 0;  // Σ (started_at − the job's created_at), ms
  // Finished after a start: n, Σ size, Σ duration (ms), Σ size², Σ size·duration.
  int64_t n = 0, sum_x = 0, sum_y = 0;
  double sum_xx = 0, sum_xy = 0;
  bool operator==(const EtaTypeStats&) const = default;
  template <class A> void serialize(A& ar, uint32_t) {
    ar(queued, queued_bytes, running, running_bytes, running_start_sum, n, sum_x, sum_y, sum_xx,
       sum_xy);
  }
};

struct EtaState {
  std::map<std::string, EtaTypeStats> types;  // by content_type ("" when unknown)
  std::optional<Millis> files_done_at;        // the last file to settle, once none is left
  bool operator==(const EtaState&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(types, files_done_at); }
};

// Fold hooks (engine/projector.cc): a file discovered; a file moving from its current
// status to `to` at `at` (call before the row changes).
void EtaDiscovered(JobSnapshot& job, const FileRow& row);
void EtaMoved(JobSnapshot& job, const FileRow& row, FileStatus to, Millis at);

// The estimate at `now`: seconds remaining, or nullopt without evidence yet.
std::optional<double> EtaSecondsRemaining(const JobSnapshot& job, Millis now);

}  // namespace jobstate::engine

CEREAL_CLASS_VERSION(jobstate::engine::EtaTypeStats, 1)
CEREAL_CLASS_VERSION(jobstate::engine::EtaState, 1)
