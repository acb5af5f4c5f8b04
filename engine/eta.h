#pragma once
// The ETA (issue #5): a work model folded from events, a prior learned from finished
// jobs, a schedule at read time, a display filter, an interval and an accuracy record.
//
// The model. Every file goes through the per-file work stages (extracting, chunking,
// tagging, embedding). A stage's cost for a file is a + b·size per (content type,
// stage), fitted by least squares on the spans of that stage the job has finished: from
// the file's entering the stage to its finishing or leaving it. A file waiting between
// stages (a stage-at-a-time pipeline) costs nothing, so counting finished files is not
// the model. Each type's fit borrows two files' worth of the stage's fit pooled over
// types, so a type with few spans leans on the others (one with none uses theirs), and a
// span far beyond its prediction (an outage) counts as three predictions. Files that
// leave in a stage (failed, skipped, cancelled) lower the chance that later stages run.
// Finalizing is job-level work: what finished jobs of this size took (the prior), or
// without history a share of the file phase.
//
// The prior (EtaHistory). The same sums, learned from the completed jobs of one
// organisation, collection and job type. Storage keeps them as derived data, in log
// position order, so replay rebuilds them and a time-travel read sees them as they stood
// at its instant. A read blends them in with the weight of a few files per (type,
// stage), less when the job's own spans there disagree with the prior's fit: the job's
// own evidence takes over within a few files (sooner when it is unlike its history),
// and a job with no finished file yet already has an estimate. Finalizing is charged
// what finished jobs of the job's size took. The fold never sees the prior (a job's
// snapshot is a function of its own stream), so the display filter and the accuracy
// record follow the job's own model.
//
// The schedule (read time). Work waiting and in flight over the worker lanes
// (job.workers, or the files in a stage now, whichever is more; without job.workers, the
// files in a stage averaged over time, EtaConcurrency; but no more lanes than files
// left); a job's last few files (64) one by one, each to the lane free first, so the
// tail of a few large files on their lanes shows. Lanes sharing a machine stretch each
// other's spans, so once enough spans have ended under the lanes in force, the fits are
// scaled by how much longer (or shorter) those spans ran than the job's spans overall.
// Work in flight that overruns its prediction is extended, never assumed done, and no
// estimate is shorter than the longest file in flight. Between events the estimate moves
// with the clock, so a stall never freezes it.
//
// EtaState holds only sums, a few instants and up to four sizes per type, so it stays
// small and folds in O(1) per event; it is part of the snapshot and rebuilt by replay
// like everything else.
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
#include <cereal/types/vector.hpp>

#include "engine/types.h"

namespace jobstate::engine {

struct FileRow;
struct JobSnapshot;

// The per-file work stages, extracting to embedding, as indexes 0..3.
inline constexpr size_t kEtaStages = 4;

// Least-squares sums of a stage's spans: x = the file's size (bytes), y = the span (ms).
struct EtaFitSums {
  int64_t n = 0, sum_x = 0, sum_y = 0;
  double sum_xx = 0, sum_xy = 0;
  void Add(int64_t x, int64_t y);
  void Add(const EtaFitSums& o);
  bool operator==(const EtaFitSums&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(n, sum_x, sum_y, sum_xx, sum_xy); }
};

// What finished spans of one (content type, stage) say: their fit, and how many of them
// ended the file there (failed, skipped or cancelled in the stage).
struct EtaStageEvidence {
  EtaFitSums spans;
  int64_t ended = 0;
  bool operator==(const EtaStageEvidence&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(spans, ended); }
};

// One (content type, stage) of a running job: the files in the stage now (with the sum
// of the instants they entered it, ms since the job's creation), the files that have
// finished it and wait for the next, and the evidence.
struct EtaStageStats {
  int64_t running = 0, running_bytes = 0, running_since_sum = 0;
  int64_t after = 0, after_bytes = 0;
  EtaStageEvidence done;
  // The same spans by the number of worker lanes (job.workers, 64 standing for 64 or
  // more) in force when each ended; spans that ended before the job reported its
  // workers are not in it. Class version 2 (empty in a snapshot folded before).
  std::map<int64_t, EtaFitSums> by_lanes;
  bool operator==(const EtaStageStats&) const = default;
  template <class A> void serialize(A& ar, uint32_t class_version) {
    ar(running, running_bytes, running_since_sum, after, after_bytes, done);
    if (class_version >= 2) ar(by_lanes);
  }
};

// How many of a type's largest waiting files the model knows by size (queued_largest).
inline constexpr size_t kEtaLargestQueued = 4;

// One content type's files: what waits to start, and each stage.
struct EtaTypeStats {
  int64_t queued = 0, queued_bytes = 0;
  std::array<EtaStageStats, kEtaStages> stages{};
  // The sizes of up to kEtaLargestQueued of the waiting files, largest first; the rest
  // are known by their sums only. A cost a + b·size is linear, so sums serve until an
  // extraction timeout caps the largest files (EtaState::extract_timeout_ms) or the
  // last few files are scheduled one by one over the lanes, where the largest set the
  // tail. A file that starts waiting takes a slot when one is free or when it is larger
  // than the smallest held; one that stops waiting frees its slot. Class version 3
  // (empty in a snapshot folded before).
  std::vector<int64_t> queued_largest;
  bool operator==(const EtaTypeStats&) const = default;
  template <class A> void serialize(A& ar, uint32_t class_version) {
    if (class_version < 2) {
      // The first model's per-file sums: not convertible (it kept no stage spans); a
      // job folded by it estimates from the prior until `jobctl replay` refolds it.
      int64_t i[8];
      double d[2];
      ar(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], d[0], d[1]);
      return;
    }
    ar(queued, queued_bytes, stages);
    if (class_version >= 3) ar(queued_largest);
  }
};

// The prior: what completed jobs of one (organisation, collection, job type) taught,
// summed in log position order. `files_ms` and `finalize_ms` sum each job's file phase
// (start to its last file settling) and finalizing (from then to its completion);
// `finalize_by_files` fits finalizing against the job's number of files (x = files,
// y = ms), so a read charges finalizing what jobs of this size took.
struct EtaHistory {
  int64_t jobs = 0;
  int64_t files_ms = 0, finalize_ms = 0;
  std::map<std::string, std::array<EtaStageEvidence, kEtaStages>> types;
  EtaFitSums finalize_by_files;  // class version 2; empty in a version-1 record
  // Adds what one finished job taught (EtaLearnedFrom), weighed against what this prior
  // already knows, as a span is within a job: where the prior has a few spans of a
  // (type, stage) to predict with (else the stage's spans over every type), the job's
  // spans there count for at most three times the prior's prediction for their sizes,
  // and so do its finalizing (against the prior's fit by files) and, at ten times the
  // typical one, its file phase. One job whose clocks were wrong (an instant in 1970
  // among instants of today) or that sat through a day-long outage moves the prior a
  // bounded step instead of ruling every later estimate of its collection; a workload
  // that really became slower still moves it, by up to a factor of three a job.
  // Storage folds jobs into the prior with this, in log position order.
  void Learn(EtaHistory lesson);
  // Adds the sums as they are.
  void Add(const EtaHistory& other);
  bool operator==(const EtaHistory&) const = default;
  template <class A> void serialize(A& ar, uint32_t class_version) {
    ar(jobs, files_ms, finalize_ms, types);
    if (class_version >= 2) ar(finalize_by_files);
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
  int64_t workers = 0;    // job.workers then (0 when unknown): so is a change of lanes
  bool operator==(const EtaFilter&) const = default;
  template <class A> void serialize(A& ar, uint32_t class_version) {
    ar(at, model_end, shown_end, scope);
    if (class_version >= 2) ar(workers);
  }
};

// The job's files in a work stage, averaged over time: how many lanes a job that does
// not report its workers (job.workers) runs on. A pool shared with other jobs, or
// workers that pause between files, make the count at any one instant swing between
// none and all of them; its average does not. An exponential average of the count as a
// function of time (the workers' clock, occurred_at, as for spans), folded at events and
// extended to a read's instant, with a time constant of a tenth of the job's elapsed
// time (at least 2 s); `weight` starts at zero with the job's first file, so the
// average is unbiased from then on. Not folded once the job reports its workers.
struct EtaConcurrency {
  Millis at = 0;        // the last event folded in
  int64_t running = 0;  // the files in a work stage after it
  double sum = 0, weight = 0;
  bool operator==(const EtaConcurrency&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(at, running, sum, weight); }
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
  EtaConcurrency concurrency;  // class version 4
  // The longest a file's extracting may take before the workers give it up as failed:
  // the job's `metadata.extract_timeout_s` (EtaExtractTimeoutOf). A file predicted to
  // take longer costs the timeout and no later stage. Class version 5.
  std::optional<Millis> extract_timeout_ms;
  bool operator==(const EtaState&) const = default;
  template <class A> void serialize(A& ar, uint32_t class_version) {
    ar(types, files_done_at);
    if (class_version >= 2) ar(predicted_end, checkpoints_passed, ended_at);
    if (class_version >= 3) ar(filter);
    if (class_version >= 4) ar(concurrency);
    if (class_version >= 5) ar(extract_timeout_ms);
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
  void Add(const EtaAccuracyTotals& other);
  bool operator==(const EtaAccuracyTotals&) const = default;
};

// Where a file stands in the model: waiting to start, in a stage, or between a stage
// and the next; kNone once settled (or before discovery).
struct EtaSpot {
  enum class Kind : uint8_t { kNone, kQueued, kRunning, kAfter };
  Kind kind = Kind::kNone;
  uint8_t stage = 0;  // kRunning, kAfter: the work stage (0 = extracting)
  Millis since = 0;   // kRunning: when the file entered the stage
  bool operator==(const EtaSpot&) const = default;
};
EtaSpot EtaSpotOf(const FileRow& row);

// The extraction timeout a job's metadata declares (`extract_timeout_s`, seconds, a
// number above zero and at most a day), in ms; nullopt when it declares none. Fold hook
// (engine/projector.cc) at job.created.
std::optional<Millis> EtaExtractTimeoutOf(const std::string& metadata_json);

// Fold hook (engine/projector.cc), after an event changed a file (or discovered it, with
// `before` = kNone): moves it in the model, records the span of a stage it finished or
// left, and keeps row.stage_started_at.
void EtaFileChanged(JobSnapshot& job, FileRow& row, const EtaSpot& before, Millis at);

// After every event (engine::Apply, once counts and percent are updated): folds the
// display filter, samples the estimate at the checkpoints `percent` has reached and
// notes when the job ended.
void EtaAfterEvent(JobSnapshot& job, bool became_final, Millis recorded_at);

// What a completed job teaches the prior of its (organisation, collection, job type);
// nullopt for a job that did not complete (failed and cancelled jobs' timings are not
// typical) or has nothing to teach.
std::optional<EtaHistory> EtaLearnedFrom(const JobSnapshot& job);

// The estimate at `now`, with the prior as it stood then (null when there is none):
// seconds remaining, or nullopt without evidence. It is the model's estimate passed
// through the display filter: between events the model's own drift (a stall, an
// overrunning file) goes through unchanged; at events its jumps are smoothed, except
// when the job's scope (files_total) changes.
std::optional<double> EtaSecondsRemaining(const JobSnapshot& job, Millis now,
                                          const EtaHistory* prior = nullptr);
// The model alone, unfiltered.
std::optional<double> EtaModelSecondsRemaining(const JobSnapshot& job, Millis now,
                                               const EtaHistory* prior = nullptr);

// The estimate with an interval meant to hold the truth about 80% of the time.
struct EtaRange {
  double seconds = 0, low_seconds = 0, high_seconds = 0;
};
// The interval is multiplicative around the estimate, exp(∓z·spread), where the spread
// shrinks as the job's own evidence grows: spread = base + evidence / sqrt(files past
// their first stage). The constants are calibrated on the finished jobs of
// the shared traces (bench/eta_bench reports the coverage); see docs/decisions.md.
struct EtaIntervalModel {
  double base = 0.25, evidence = 0.7, z_low = 1.25, z_high = 1.05;
};
std::optional<EtaRange> EtaRangeAt(const JobSnapshot& job, Millis now,
                                   const EtaIntervalModel& model = {},
                                   const EtaHistory* prior = nullptr);

// The accuracy record of a completed job (completed or completed_with_failures that
// started); nullopt for any other.
std::optional<EtaAccuracy> EtaAccuracyOf(const JobSnapshot& job);

}  // namespace jobstate::engine

CEREAL_CLASS_VERSION(jobstate::engine::EtaFitSums, 1)
CEREAL_CLASS_VERSION(jobstate::engine::EtaStageEvidence, 1)
CEREAL_CLASS_VERSION(jobstate::engine::EtaStageStats, 2)
CEREAL_CLASS_VERSION(jobstate::engine::EtaTypeStats, 3)
CEREAL_CLASS_VERSION(jobstate::engine::EtaHistory, 2)
CEREAL_CLASS_VERSION(jobstate::engine::EtaState, 5)
CEREAL_CLASS_VERSION(jobstate::engine::EtaConcurrency, 1)
CEREAL_CLASS_VERSION(jobstate::engine::EtaFilter, 2)
