#include "engine/eta.h"

#include <algorithm>
#include <cmath>

#include "engine/state.h"

namespace jobstate::engine {

namespace {

constexpr double kFinalizeShare = 0.10;  // finalizing as a share of the file work
// The display filter: time constant = max(kFilterMinTau ms, share × elapsed); a jump of
// the model's completion by more than kFilterPassJump of the time remaining passes at
// once (news, not noise); the shown estimate never falls below kFilterFloor of the
// model's. Chosen on the shared traces (docs/performance.md).
constexpr double kFilterTauShare = 0.10;
constexpr double kFilterMinTau = 500;
constexpr double kFilterFloor = 0.25;
constexpr double kFilterPassJump = 0.75;

EtaTypeStats& Of(JobSnapshot& job, const FileRow& row) {
  return job.eta.types[row.content_type.value_or("")];
}

bool Settled(FileStatus s) { return s != FileStatus::kQueued && s != FileStatus::kProcessing; }

// cost(size) in ms, fitted on `s`; nullopt without evidence.
struct Fit {
  double a = 0, b = 0;
};
std::optional<Fit> FitOf(int64_t n, int64_t sx, int64_t sy, double sxx, double sxy) {
  if (n == 0) return std::nullopt;
  const double dn = double(n), x = double(sx), y = double(sy);
  const double den = dn * sxx - x * x;
  Fit f;
  if (n >= 3 && den > 0) {
    f.b = std::max(0.0, (dn * sxy - x * y) / den);
    f.a = std::max(0.0, (y - f.b * x) / dn);
  } else {
    f.a = y / dn;  // too few points for a slope: the mean duration
  }
  return f;
}

}  // namespace

void EtaDiscovered(JobSnapshot& job, const FileRow& row) {
  EtaTypeStats& s = Of(job, row);
  ++s.queued;
  s.queued_bytes += row.size_bytes.value_or(0);
  job.eta.files_done_at.reset();
}

void EtaMoved(JobSnapshot& job, const FileRow& row, FileStatus to, Millis at) {
  if (row.status == to) return;  // file.progress: still the same attempt
  EtaTypeStats& s = Of(job, row);
  const int64_t size = row.size_bytes.value_or(0);
  const FileStatus from = row.status;
  if (from == FileStatus::kQueued) {
    --s.queued;
    s.queued_bytes -= size;
  } else if (from == FileStatus::kProcessing) {
    --s.running;
    s.running_bytes -= size;
    const int64_t started = row.started_at.value_or(at) - job.created_at;
    s.running_start_sum -= started;
    if (Settled(to)) {
      const double duration = double(std::max<Millis>(0, at - job.created_at - started));
      ++s.n;
      s.sum_x += size;
      s.sum_y += static_cast<int64_t>(duration);
      s.sum_xx += double(size) * double(size);
      s.sum_xy += double(size) * duration;
    }
  }
  if (to == FileStatus::kQueued) {
    ++s.queued;
    s.queued_bytes += size;
  } else if (to == FileStatus::kProcessing) {
    ++s.running;
    s.running_bytes += size;
    s.running_start_sum += at - job.created_at;
  }
  if (Settled(to) && job.count(FileStatus::kQueued) + job.count(FileStatus::kProcessing) <= 1) {
    job.eta.files_done_at = at;  // this move settles the last file (counts are pre-move)
  }
}

std::optional<double> EtaModelSecondsRemaining(const JobSnapshot& job, Millis now) {
  if (IsFinal(job.status)) return 0.0;
  if (job.status != JobStatus::kRunning || !job.started_at) return std::nullopt;
  // The pooled fit, for types without enough evidence of their own.
  int64_t pn = 0, psx = 0, psy = 0;
  double psxx = 0, psxy = 0;
  for (const auto& [type, s] : job.eta.types) {
    pn += s.n;
    psx += s.sum_x;
    psy += s.sum_y;
    psxx += s.sum_xx;
    psxy += s.sum_xy;
  }
  const auto pooled = FitOf(pn, psx, psy, psxx, psxy);
  if (!pooled) return std::nullopt;

  double waiting = 0, running_left = 0;
  int64_t running = 0;
  for (const auto& [type, s] : job.eta.types) {
    const Fit f = s.n >= 3 ? *FitOf(s.n, s.sum_x, s.sum_y, s.sum_xx, s.sum_xy) : *pooled;
    waiting += f.a * double(s.queued) + f.b * double(s.queued_bytes);
    const double predicted = f.a * double(s.running) + f.b * double(s.running_bytes);
    const double elapsed = double(s.running) * double(now - job.created_at) - double(s.running_start_sum);
    // Work that overruns its prediction is not done: keep a share of it.
    running_left += std::max(predicted - elapsed, 0.25 * predicted);
    running += s.running;
  }
  const int64_t lanes = std::max<int64_t>(
      1, std::max<int64_t>(job.workers_count.value_or(0), running));
  const double file_work_ms = (waiting + running_left) / double(lanes);

  // Finalizing is work too: a share of the job's file phase, less what has run of it.
  const Millis start = *job.started_at;
  const double files_end = job.eta.files_done_at ? double(*job.eta.files_done_at - start)
                                                 : double(now - start) + file_work_ms;
  double finalize_ms = kFinalizeShare * files_end;
  if (job.eta.files_done_at) finalize_ms -= double(now - *job.eta.files_done_at);
  finalize_ms = std::max(finalize_ms, 0.02 * files_end);
  return (file_work_ms + finalize_ms) / 1000;
}

std::optional<EtaRange> EtaRangeAt(const JobSnapshot& job, Millis now,
                                   const EtaIntervalModel& model) {
  if (IsFinal(job.status)) return std::nullopt;
  const auto point = EtaSecondsRemaining(job, now);
  if (!point) return std::nullopt;
  int64_t finished = 0;
  for (const auto& [type, s] : job.eta.types) finished += s.n;
  const double spread = model.base + model.evidence / std::sqrt(double(std::max<int64_t>(finished, 1)));
  return EtaRange{*point, *point * std::exp(-model.z_low * spread),
                  *point * std::exp(model.z_high * spread)};
}

std::optional<double> EtaSecondsRemaining(const JobSnapshot& job, Millis now) {
  const auto model = EtaModelSecondsRemaining(job, now);
  if (!model || IsFinal(job.status) || !job.eta.filter) return model;
  const EtaFilter& f = *job.eta.filter;
  // The shown instant moves with the model's drift since the last event.
  const double model_end = double(now) + *model * 1000;
  const double shown_end = double(f.shown_end) + (model_end - double(f.model_end));
  return std::max((shown_end - double(now)) / 1000, kFilterFloor * *model);
}

namespace {

// Folds the model's completion instant at an event into the display filter: an
// exponential average with a time constant of a tenth of the job's elapsed time, so
// the shown value settles within seconds early on and resists noise later.
void UpdateFilter(JobSnapshot& job, Millis at) {
  const auto model = EtaModelSecondsRemaining(job, at);
  if (!model) return;
  const Millis model_end = at + static_cast<Millis>(std::llround(*model * 1000));
  const int64_t scope = job.files_total();
  auto& f = job.eta.filter;
  if (!f || f->scope != scope) {
    f = EtaFilter{at, model_end, model_end, scope};
    return;
  }
  const double elapsed = double(at - job.started_at.value_or(at));
  const double tau = std::max(kFilterMinTau, kFilterTauShare * elapsed);
  const double alpha = 1 - std::exp(-double(at - f->at) / tau);
  const double before = double(f->shown_end);  // the drift between events is not kept
  // A jump larger than a share of what remains is news, not noise: let it through.
  const double remaining = std::max(1.0, double(model_end - at));
  const double jump = std::abs(double(model_end) - before) / remaining;
  const double a = jump > kFilterPassJump ? 1.0 : alpha;
  f->shown_end = static_cast<Millis>(std::llround(before + a * (double(model_end) - before)));
  f->model_end = model_end;
  f->at = at;
}

}  // namespace

void EtaAfterEvent(JobSnapshot& job, bool became_final, Millis recorded_at) {
  if (became_final) {
    job.eta.ended_at = recorded_at;
    return;
  }
  if (job.status != JobStatus::kRunning) return;
  UpdateFilter(job, recorded_at);
  int32_t& passed = job.eta.checkpoints_passed;
  if (passed >= int32_t(kEtaCheckpointTenths.size()) ||
      job.percent_tenths < kEtaCheckpointTenths[size_t(passed)]) {
    return;
  }
  const auto remaining = EtaSecondsRemaining(job, recorded_at);
  std::optional<Millis> end;
  if (remaining) end = recorded_at + static_cast<Millis>(std::llround(*remaining * 1000));
  // One event can carry percent past several checkpoints: each gets this estimate.
  for (; passed < int32_t(kEtaCheckpointTenths.size()) &&
         job.percent_tenths >= kEtaCheckpointTenths[size_t(passed)];
       ++passed) {
    job.eta.predicted_end[size_t(passed)] = end;
  }
}

std::optional<EtaAccuracy> EtaAccuracyOf(const JobSnapshot& job) {
  if (job.status != JobStatus::kCompleted && job.status != JobStatus::kCompletedWithFailures) {
    return std::nullopt;
  }
  if (!job.started_at || !job.eta.ended_at || *job.eta.ended_at <= *job.started_at) {
    return std::nullopt;
  }
  const double duration = double(*job.eta.ended_at - *job.started_at);
  EtaAccuracy out;
  for (size_t i = 0; i < out.error.size(); ++i) {
    if (const auto& predicted = job.eta.predicted_end[i]) {
      out.error[i] = double(*predicted - *job.eta.ended_at) / duration;
    }
  }
  return out;
}

void EtaAccuracyTotals::Add(const EtaAccuracy& accuracy) {
  for (size_t i = 0; i < at.size(); ++i) {
    if (!accuracy.error[i]) continue;
    const double e = std::abs(*accuracy.error[i]);
    Point& p = at[i];
    ++p.count;
    p.abs_error_micros += std::llround(std::min(e, 1e6) * kMicro);
    for (size_t b = 0; b < kBounds.size(); ++b) p.le[b] += e <= kBounds[b];
  }
}

}  // namespace jobstate::engine
