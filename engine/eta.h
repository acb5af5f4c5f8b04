#pragma once
// The ETA's work model, folded from events (issue #5, first model).
//
// Remaining work is a sum of per-file costs, cost = a + b·size per content type, fitted
// by least squares on this job's finished files (from `file.started` to the file's end)
// with a pooled fit over every type as the fallback. Read time divides the work still
// waiting (and what is left of the work in flight) by the worker lanes and adds a
// finalizing share. What is shown passes through a display filter folded at events,
// with an interval around it, and the fold keeps an accuracy record of what it showed.
// EtaState holds only sums and a few instants, so it stays small and folds in O(1) per
// event; it is part of the snapshot and rebuilt by replay like everything else.
//
// Not yet (issue #5): a history prior across jobs and per-stage costs for
// stage-at-a-time pipelines; until there is evidence (a finished file) the estimate is
// null.
//
// Thread safety: plain values and free functions.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
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

// The accuracy record: the estimate is sampled when `percent` first reaches each of
// these (in tenths), and compared with the truth once the job completes.
inline constexpr std::array<int32_t, 5> kEtaCheckpointTenths{100, 250, 500, 750, 900};
using EtaCheckpoints = std::array<std::optional<Millis>, kEtaCheckpointTenths.size()>;

// The display filter, folded at event instants (a read stays a function of the stored
// state and its instant): the model's completion instant at the last event, and the
// smoothed one shown for it.
struct EtaFilter {
  Millis at = 0;          // recorded_at of the last event that updated it
  Millis model_end = 0;   // the model's completion instant then
  Millis shown_end = 0;   // the filtered completion instant then
  int64_t scope = 0;      // files_total then: a change of scope is let through at once
  bool operator==(const EtaFilter&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(at, model_end, shown_end, scope); }
};

struct EtaState {
  std::map<std::string, EtaTypeStats> types;  // by content_type ("" when unknown)
  std::optional<Millis> files_done_at;        // the last file to settle, once none is left
  // The predicted completion instant (recorded_at clock) at each checkpoint passed,
  // null where there was no estimate yet; `checkpoints_passed` counts them.
  EtaCheckpoints predicted_end{};
  int32_t checkpoints_passed = 0;
  std::optional<Millis> ended_at;  // recorded_at of the event that made the job final
  std::optional<EtaFilter> filter;
  bool operator==(const EtaState&) const = default;
  template <class A> void serialize(A& ar, uint32_t class_version) {
    ar(types, files_done_at);
    if (class_version >= 2) ar(predicted_end, checkpoints_passed, ended_at);
    if (class_version >= 3) ar(filter);
  }
};

// How far each checkpoint's prediction was from the truth, as a share of the job's
// duration (started_at to the final event): (predicted end − end) / duration, so
// positive is pessimistic. Null where the checkpoint was not passed with an estimate.
struct EtaAccuracy {
  std::array<std::optional<double>, kEtaCheckpointTenths.size()> error{};
};

// Finished jobs' accuracy summed per checkpoint: integers only, so that the sum is the
// same in whatever order jobs are added (replay folds jobs in parallel). Kept in the
// meta family next to the job counts and served as a Prometheus histogram.
struct EtaAccuracyTotals {
  static constexpr std::array<double, 6> kBounds{0.02, 0.05, 0.1, 0.2, 0.5, 1.0};
  static constexpr double kMicro = 1e6;
  struct Point {
    int64_t count = 0;
    int64_t abs_error_micros = 0;            // Σ |error| in millionths
    std::array<int64_t, kBounds.size()> le{};  // |error| ≤ bound, per bound (cumulative)
    bool operator==(const Point&) const = default;
  };
  std::array<Point, kEtaCheckpointTenths.size()> at{};
  void Add(const EtaAccuracy& accuracy);
  bool operator==(const EtaAccuracyTotals&) const = default;
};

// Fold hooks (engine/projector.cc): a file discovered; a file moving from its current
// status to `to` at `at` (call before the row changes).
void EtaDiscovered(JobSnapshot& job, const FileRow& row);
void EtaMoved(JobSnapshot& job, const FileRow& row, FileStatus to, Millis at);

// After every event (engine::Apply, once counts and percent are updated): samples the
// estimate at the checkpoints `percent` has reached and notes when the job ended.
void EtaAfterEvent(JobSnapshot& job, bool became_final, Millis recorded_at);

// The estimate at `now`: seconds remaining, or nullopt without evidence yet. It is the
// model's estimate passed through the display filter: between events the model's own
// drift (a stall, an overrunning file) goes through unchanged; at events its jumps are
// smoothed, except when the job's scope (files_total) changes.
std::optional<double> EtaSecondsRemaining(const JobSnapshot& job, Millis now);
// The model alone, unfiltered.
std::optional<double> EtaModelSecondsRemaining(const JobSnapshot& job, Millis now);

// The estimate with an interval meant to hold the truth about 80% of the time.
struct EtaRange {
  double seconds = 0, low_seconds = 0, high_seconds = 0;
};
// The interval is multiplicative around the estimate, exp(∓z·spread), where the spread
// shrinks as the job's own evidence (finished files) grows: spread = base + evidence /
// sqrt(files finished). The constants are calibrated on the finished jobs of the shared
// traces (bench/eta_bench reports the coverage); see docs/decisions.md.
struct EtaIntervalModel {
  double base = 0.35, evidence = 1.0, z_low = 1.4, z_high = 1.2;
};
std::optional<EtaRange> EtaRangeAt(const JobSnapshot& job, Millis now,
                                   const EtaIntervalModel& model = {});

// The accuracy record of a completed job (completed or completed_with_failures that
// started); nullopt for any other.
std::optional<EtaAccuracy> EtaAccuracyOf(const JobSnapshot& job);

}  // namespace jobstate::engine

CEREAL_CLASS_VERSION(jobstate::engine::EtaTypeStats, 1)
CEREAL_CLASS_VERSION(jobstate::engine::EtaState, 3)
CEREAL_CLASS_VERSION(jobstate::engine::EtaFilter, 1)
