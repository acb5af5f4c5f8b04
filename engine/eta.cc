#include "engine/eta.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <boost/json.hpp>

#include "engine/state.h"

namespace jobstate::engine {

namespace {

// Finalizing as a share of the file phase, before history says otherwise; the default
// counts as one job's worth against what the prior has learned.
constexpr double kFinalizeShare = 0.10;
// The prior weighs as this many files of each (content type, stage): the job's own
// evidence takes over within a few files. Chosen on the shared traces.
constexpr double kPriorFiles = 4;
// How fast the prior gives way when the job's own spans disagree with it: 1/(2σ²) for
// a spread σ = 0.5 of the log ratio of spans to the prior's prediction (PriorWeightGiven).
constexpr double kPriorDisagreement = 2;
// A type's fit borrows this many files' worth of its stage's fit pooled over types.
constexpr double kShrinkFiles = 2;
// A finished span counts as at most this many times its prediction (Robust below).
constexpr double kSpanClip = 3;
// What a finished job teaches the prior is clipped the same way (EtaHistory::Learn),
// once the prior holds kLearnFrom spans (or jobs) to predict with; the file phase of a
// job, which grows with the job's size as well as its files' costs, at kJobClip times
// the typical one.
// A prediction under kLearnFloorMs a span (or job) is taken as that much, so that a
// prior of spans that cost nothing (a test workload) does not hold real jobs at zero.
constexpr int64_t kLearnFrom = 3;
constexpr double kJobClip = 10;
constexpr double kLearnFloorMs = 1000;
// Spans (of any stage) that must end under the lanes in force before they say how
// those lanes stretch spans: about fifty files' worth. Chosen on the shared traces.
constexpr int64_t kLaneSpans = 200;
// Lane counts from this one up share their sums, so that a job reporting ever new
// worker counts does not grow its snapshot without bound.
constexpr int64_t kLaneKeys = 64;
// The time constant of the files-in-flight average (EtaConcurrency): this share of the
// job's elapsed time, and at least kConcurrencyMinTau ms.
constexpr double kConcurrencyTauShare = 0.10;
constexpr double kConcurrencyMinTau = 2000;
// Work in flight past its prediction keeps this share of the prediction.
constexpr double kOverrunKeep = 0.25;
// A job with at most this many files left is scheduled file by file (Makespan): the
// last files' tail on the lanes is a large share of what is left only then.
constexpr int64_t kScheduleFiles = 64;
// The display filter: time constant = max(kFilterMinTau ms, share × elapsed); a fall of
// the model's completion by more than kFilterPassJump of the time remaining passes at
// once (news, not noise), and so does a rise by more than kFilterPassRise of it (new
// work, shown in one step); smaller moves, such as the steps of a few slow or fast files
// finishing, are smoothed. What the filter holds back is at most kFilterHoldShare of the
// estimate, and the shown estimate never falls below kFilterFloor of the model's.
// Chosen on the shared traces (docs/performance.md).
constexpr double kFilterTauShare = 0.10;
constexpr double kFilterMinTau = 500;
constexpr double kFilterFloor = 0.25;
constexpr double kFilterPassJump = 0.30;
constexpr double kFilterPassRise = 0.50;
constexpr double kFilterHoldShare = 0.08;

// The work stage of a stage a file reports: extracting 0 … embedding 3 (a file that
// names scanning is extracting; one that names finalizing, embedding).
uint8_t WorkStage(std::optional<Stage> stage) {
  const int s = static_cast<int>(stage.value_or(Stage::kExtracting)) - 1;
  return static_cast<uint8_t>(std::clamp(s, 0, int(kEtaStages) - 1));
}

// Fit sums with weights (the prior is blended in scaled down).
struct Moments {
  double n = 0, x = 0, y = 0, xx = 0, xy = 0;
  void Add(const EtaFitSums& s, double w) {
    Add(Moments{double(s.n), double(s.sum_x), double(s.sum_y), s.sum_xx, s.sum_xy}, w);
  }
  void Add(const Moments& o, double w) {
    n += w * o.n;
    x += w * o.x;
    y += w * o.y;
    xx += w * o.xx;
    xy += w * o.xy;
  }
};

// cost(size) = a + b·size in ms; nullopt without evidence.
struct Fit {
  double a = 0, b = 0;
  double At(double n, double bytes) const { return a * n + b * bytes; }
};
std::optional<Fit> FitOf(const Moments& m) {
  if (m.n < 0.5) return std::nullopt;
  const double den = m.n * m.xx - m.x * m.x;
  Fit f;
  if (m.n >= 3 && den > 0) {
    f.b = std::max(0.0, (m.n * m.xy - m.x * m.y) / den);
    f.a = std::max(0.0, (m.y - f.b * m.x) / m.n);
  } else {
    f.a = m.y / m.n;  // too few points for a slope: the mean span
  }
  return f;
}
std::optional<Fit> FitOf(const EtaFitSums& s) {
  Moments m;
  m.Add(s, 1);
  return FitOf(m);
}

// The prior's weight for evidence of `n` spans: at most kPriorFiles files' worth.
double PriorWeight(double n) { return n > kPriorFiles ? kPriorFiles / n : 1.0; }

// The prior's weight for one (type, stage), given the spans this job has finished
// there: PriorWeight, times the likelihood of the job's spans under the prior's fit,
// exp(−kPriorDisagreement · ln² ratio · n), where ratio is what the spans took against
// what the prior predicts for their sizes. A job unlike its history (a timeout that
// cuts large files short, a slower machine) leaves its prior within a few files, while
// one that agrees keeps it as long as PriorWeight says.
double PriorWeightGiven(const EtaFitSums& own, const EtaFitSums& prior) {
  double w = PriorWeight(double(prior.n));
  if (own.n == 0 || own.sum_y <= 0 || prior.n < 3) return w;
  const double predicted = FitOf(prior)->At(double(own.n), double(own.sum_x));
  if (predicted <= 0) return w;
  const double miss = std::log(double(own.sum_y) / predicted);
  return w * std::exp(-kPriorDisagreement * miss * miss * double(own.n));
}

// Per (type, stage): the cost fit and the chance that a file entering the stage
// finishes it (and so goes on to the next), the job's evidence with the prior's.
struct StageCost {
  Fit fit;
  double goes_on = 1;
};
using TypeCosts = std::array<StageCost, kEtaStages>;

struct CostModel {
  std::vector<TypeCosts> types;  // in the order of job.eta.types
  bool any = false;  // some stage has evidence
};

// The key of the lanes in force in EtaStageStats::by_lanes; nullopt before the job
// reports its workers.
std::optional<int64_t> LaneKey(const JobSnapshot& job) {
  if (!job.workers_count) return std::nullopt;
  return std::min(*job.workers_count, kLaneKeys);
}

// How much longer than the fits predict the spans ran that ended under the lanes in
// force now, against all the job's spans. On a shared machine more lanes stretch every
// span (in the shared traces two workers on two cores finished a third more files than
// one, not twice as many), so fits of spans that ran under other lane counts misjudge
// the work left: right after a second worker joins, the estimate would halve. Contention
// only grows with lanes, so under the most lanes the job has had no stretch is below 1,
// and under the fewest none above 1: a costly file that happened to run under one lane
// does not make one lane look slower than two. 1 until kLaneSpans spans have ended
// under the lanes in force, and for a job that does not report its workers.
double LaneStretch(const JobSnapshot& job, const CostModel& costs) {
  const auto lanes_now = LaneKey(job);
  if (!lanes_now) return 1;
  const int64_t now = *lanes_now;
  double span_now = 0, fit_now = 0, span_all = 0, fit_all = 0;
  int64_t n_now = 0, fewest = now, most = now;
  size_t i = 0;
  for (const auto& [type, t] : job.eta.types) {
    const TypeCosts& c = costs.types[i++];
    for (size_t s = 0; s < kEtaStages; ++s) {
      for (const auto& [lanes, sums] : t.stages[s].by_lanes) {
        const double fit = c[s].fit.At(double(sums.n), double(sums.sum_x));
        span_all += double(sums.sum_y);
        fit_all += fit;
        fewest = std::min(fewest, lanes);
        most = std::max(most, lanes);
        if (lanes != now) continue;
        n_now += sums.n;
        span_now += double(sums.sum_y);
        fit_now += fit;
      }
    }
  }
  if (n_now < kLaneSpans || span_now <= 0 || fit_now <= 0 || span_all <= 0 || fit_all <= 0) {
    return 1;
  }
  double stretch = (span_now / fit_now) / (span_all / fit_all);
  if (now == most) stretch = std::max(stretch, 1.0);
  if (now == fewest) stretch = std::min(stretch, 1.0);
  return stretch;
}

// The job's files in a work stage now.
int64_t InFlight(const JobSnapshot& job) {
  int64_t n = 0;
  for (const auto& [type, t] : job.eta.types) {
    for (const EtaStageStats& st : t.stages) n += st.running;
  }
  return n;
}

// The files-in-flight average carried from its last event to `now`, with the count it
// had then; nothing is averaged before the job's first file enters a stage.
EtaConcurrency ConcurrencyAt(const JobSnapshot& job, Millis now) {
  EtaConcurrency c = job.eta.concurrency;
  if (now <= c.at) return c;
  if (c.weight > 0 || c.running > 0) {
    const double elapsed = double(now - job.started_at.value_or(job.created_at));
    const double tau = std::max(kConcurrencyMinTau, kConcurrencyTauShare * elapsed);
    const double keep = std::exp(-double(now - c.at) / tau);
    const double added = tau * (1 - keep);  // the weight of the time since c.at
    c.sum = c.sum * keep + double(c.running) * added;
    c.weight = c.weight * keep + added;
  }
  c.at = now;
  return c;
}

// How many lanes the job's work runs on: job.workers, or more when more files are in
// flight; without job.workers, the files in flight averaged over time.
double LanesOf(const JobSnapshot& job, Millis now, int64_t running) {
  if (job.workers_count) return double(std::max(*job.workers_count, running));
  const EtaConcurrency c = ConcurrencyAt(job, now);
  return c.weight > 0 ? c.sum / c.weight : double(running);
}

CostModel CostsOf(const JobSnapshot& job, const EtaHistory* prior) {
  static const std::array<EtaStageEvidence, kEtaStages> kNone{};
  auto prior_of = [&](const std::string& type) -> const std::array<EtaStageEvidence, kEtaStages>& {
    if (!prior) return kNone;
    auto it = prior->types.find(type);
    return it == prior->types.end() ? kNone : it->second;
  };
  CostModel out;
  out.types.resize(job.eta.types.size());
  // Stage by stage: each (type, stage) needs only its stage pooled over types, so no
  // table of every stage's sums is built (and zeroed) on each of the fold's calls.
  for (size_t s = 0; s < kEtaStages; ++s) {
    // The stage pooled over types: the job's own spans, and the prior's, weighted by
    // how well they agree.
    EtaFitSums own, prior_pooled;
    for (const auto& [type, t] : job.eta.types) own.Add(t.stages[s].done.spans);
    Moments pooled;
    pooled.Add(own, 1);
    if (prior) {
      for (const auto& [type, st] : prior->types) prior_pooled.Add(st[s].spans);
      pooled.Add(prior_pooled, PriorWeightGiven(own, prior_pooled));
    }
    out.any = out.any || pooled.n > 0;
    size_t i = 0;
    for (const auto& [type, t] : job.eta.types) {
      const EtaStageEvidence& p = prior_of(type)[s];
      const EtaStageEvidence& own_type = t.stages[s].done;
      const double w = PriorWeightGiven(own_type.spans, p.spans);
      Moments m;
      m.Add(own_type.spans, 1);
      m.Add(p.spans, w);
      // Shrunk toward the stage's pooled fit by kShrinkFiles files' worth of it: a
      // type with few spans borrows the others' shape instead of trusting a line
      // through three points; one with many keeps its own.
      const double n = m.n;
      if (pooled.n > 0) m.Add(pooled, std::min(1.0, kShrinkFiles / pooled.n));
      StageCost& cost = out.types[i++][s];
      cost.fit = FitOf(m).value_or(Fit{});
      const double ended = double(own_type.ended) + w * double(p.ended);
      cost.goes_on = (n - ended + 1) / (n + 1);
    }
  }
  const double stretch = LaneStretch(job, out);
  for (TypeCosts& costs : out.types) {
    for (StageCost& c : costs) {
      c.fit.a *= stretch;
      c.fit.b *= stretch;
    }
  }
  return out;
}

// The expected cost (ms) of stages from..3 for `n` files of `bytes` that will enter
// stage `from` (each later stage weighted by the chance of getting there).
double RestOf(const TypeCosts& c, size_t from, double n, double bytes) {
  double total = 0, reach = 1;
  for (size_t s = from; s < kEtaStages; ++s) {
    total += reach * c[s].fit.At(n, bytes);
    reach *= c[s].goes_on;
  }
  return total;
}

// RestOf for `n` files of `bytes` waiting to start in a job whose extracting gives up
// after `timeout` ms: a file predicted to take longer costs the timeout and no later
// stage. Files known by their sums alone are taken at their mean size.
double WaitingRestOf(const TypeCosts& c, double n, double bytes,
                     std::optional<Millis> timeout) {
  if (n <= 0) return 0;
  if (timeout && c[0].fit.At(1, bytes / n) >= double(*timeout))
    return n * double(*timeout);
  return RestOf(c, 0, n, bytes);
}

// The files left in a job with few of them (kScheduleFiles), one by one: the work (ms)
// of each in flight, each between two stages and each waiting to start. `n` files known
// by their sums alone are taken at their mean.
struct FewFiles {
  std::vector<double> in_flight, between, waiting;
  static void Add(std::vector<double>& to, double n, double total) {
    for (int64_t k = std::llround(n); k > 0; --k) to.push_back(total / n);
  }
};

// The time (ms) until the last file is done on `m` lanes, each file going to the lane
// free first: the files in flight stay on theirs, those between stages go on first.
double ListSchedule(size_t m, const FewFiles& f) {
  std::vector<double> free_at(m, 0.0);
  for (const auto* files : {&f.in_flight, &f.between, &f.waiting}) {
    for (const double cost : *files)
      *std::min_element(free_at.begin(), free_at.end()) += cost;
  }
  return *std::max_element(free_at.begin(), free_at.end());
}

// The last few files over the lanes. Which file the workers take next is not known, so
// the waiting ones go largest first, as a scheduler that knew their sizes would: the
// shortest such schedule, whose tail is the least a real order adds to work / lanes. A
// share of a lane (lanes averaged over time) takes that share of the difference one more
// lane makes.
double Makespan(double lanes, FewFiles f) {
  std::sort(f.in_flight.begin(), f.in_flight.end(), std::greater<>());
  std::sort(f.waiting.begin(), f.waiting.end(), std::greater<>());
  const double whole = std::max(1.0, std::floor(lanes)), share = lanes - whole;
  const double ms = ListSchedule(size_t(whole), f);
  return share > 0 ? ms + share * (ListSchedule(size_t(whole) + 1, f) - ms) : ms;
}

// A finished span as evidence: one far beyond what the stage's fit predicts for its
// size (a file held up by an outage, not a costly file) counts as kSpanClip
// predictions, so one stall does not inflate every later estimate.
int64_t Robust(const EtaFitSums& sums, int64_t size, int64_t span) {
  if (sums.n < 3) return span;
  const double predicted = FitOf(sums)->At(1, double(size));
  if (predicted <= 0) return span;
  return std::min<int64_t>(span, std::llround(kSpanClip * predicted));
}

// Finalizing's share of the file phase: the prior's, with the default as one job more.
double FinalizeShare(const EtaHistory* prior) {
  if (!prior || prior->jobs == 0 || prior->files_ms <= 0) return kFinalizeShare;
  const double per_job = double(prior->files_ms) / double(prior->jobs);
  return (double(prior->finalize_ms) + kFinalizeShare * per_job) /
         (double(prior->files_ms) + per_job);
}

// Finalizing (ms) for a job of `files` files whose file phase ends `files_end` ms after
// its start: what finished jobs of its kind took, fitted against their number of files
// (the mean below three jobs); without such history, a share of the file phase.
// Finalizing builds and syncs the index: its time follows what was indexed, not how
// long the files took (an outage or fewer workers stretch the file phase only).
double FinalizeMs(const EtaHistory* prior, int64_t files, double files_end) {
  if (prior && prior->finalize_by_files.n > 0) {
    return FitOf(prior->finalize_by_files)->At(1, double(files));
  }
  return FinalizeShare(prior) * files_end;
}

}  // namespace

void EtaFitSums::Add(int64_t x, int64_t y) {
  ++n;
  sum_x += x;
  sum_y += y;
  sum_xx += double(x) * double(x);
  sum_xy += double(x) * double(y);
}

void EtaFitSums::Add(const EtaFitSums& o) {
  n += o.n;
  sum_x += o.sum_x;
  sum_y += o.sum_y;
  sum_xx += o.sum_xx;
  sum_xy += o.sum_xy;
}

namespace {

// `sums` with its spans scaled by `f` (sum_y and sum_xy; sizes stay as they were).
void ScaleSpans(EtaFitSums& sums, double f) {
  sums.sum_y = std::llround(double(sums.sum_y) * f);
  sums.sum_xy *= f;
}

// The factor that brings `taken` (ms, over `n` spans or jobs) down to `clip` times
// `predicted` (1 when it is within it).
double ClipFactor(double taken, double predicted, double clip, double n) {
  const double limit = clip * std::max(predicted, kLearnFloorMs * n);
  return taken > limit ? limit / taken : 1.0;
}

}  // namespace

void EtaHistory::Learn(EtaHistory lesson) {
  // A type the prior has few spans of is weighed against the stage over every type.
  std::array<EtaFitSums, kEtaStages> pooled;
  for (const auto& [type, stages] : types) {
    for (size_t s = 0; s < kEtaStages; ++s) pooled[s].Add(stages[s].spans);
  }
  for (auto& [type, stages] : lesson.types) {
    const auto known = types.find(type);
    for (size_t s = 0; s < kEtaStages; ++s) {
      EtaFitSums& taught = stages[s].spans;
      const EtaFitSums& prior =
          known != types.end() && known->second[s].spans.n >= kLearnFrom ? known->second[s].spans
                                                                           : pooled[s];
      if (taught.n == 0 || prior.n < kLearnFrom) continue;
      const double predicted = FitOf(prior)->At(double(taught.n), double(taught.sum_x));
      const double n = double(taught.n);
      ScaleSpans(taught, ClipFactor(double(taught.sum_y), predicted, kSpanClip, n));
    }
  }
  if (lesson.jobs > 0 && finalize_by_files.n >= kLearnFrom) {
    const double files = double(lesson.finalize_by_files.sum_x);
    const double predicted = FitOf(finalize_by_files)->At(double(lesson.jobs), files);
    const double f =
        ClipFactor(double(lesson.finalize_ms), predicted, kSpanClip, double(lesson.jobs));
    lesson.finalize_ms = std::llround(double(lesson.finalize_ms) * f);
    ScaleSpans(lesson.finalize_by_files, f);
  }
  if (lesson.jobs > 0 && jobs >= kLearnFrom) {
    const double typical = double(files_ms) / double(jobs) * double(lesson.jobs);
    lesson.files_ms = std::llround(
        double(lesson.files_ms) *
        ClipFactor(double(lesson.files_ms), typical, kJobClip, double(lesson.jobs)));
  }
  Add(lesson);
}

void EtaHistory::Add(const EtaHistory& other) {
  jobs += other.jobs;
  files_ms += other.files_ms;
  finalize_ms += other.finalize_ms;
  finalize_by_files.Add(other.finalize_by_files);
  for (const auto& [type, stages] : other.types) {
    auto& mine = types[type];
    for (size_t s = 0; s < kEtaStages; ++s) {
      mine[s].spans.Add(stages[s].spans);
      mine[s].ended += stages[s].ended;
    }
  }
}

std::optional<Millis> EtaExtractTimeoutOf(const std::string& metadata_json) {
  boost::json::error_code ec;
  const boost::json::value v = boost::json::parse(metadata_json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const boost::json::value* t = v.as_object().if_contains("extract_timeout_s");
  if (!t || !t->is_number()) return std::nullopt;
  const double s = t->to_number<double>(ec);
  if (ec || !(s > 0 && s <= 86'400)) return std::nullopt;
  return std::max<Millis>(1, std::llround(s * 1000));
}

EtaSpot EtaSpotOf(const FileRow& row) {
  EtaSpot spot;
  if (row.status == FileStatus::kQueued) {
    spot.kind = EtaSpot::Kind::kQueued;
  } else if (row.status == FileStatus::kProcessing) {
    spot.stage = WorkStage(row.stage);
    if (row.phase == FilePhase::kCompleted) {
      spot.kind = EtaSpot::Kind::kAfter;
    } else {
      spot.kind = EtaSpot::Kind::kRunning;
      spot.since = row.stage_started_at.value_or(row.started_at.value_or(row.updated_at));
    }
  }
  return spot;
}

void EtaFileChanged(JobSnapshot& job, FileRow& row, const EtaSpot& before, Millis at) {
  using Kind = EtaSpot::Kind;
  EtaSpot after = EtaSpotOf(row);
  if (after.kind == Kind::kRunning) {
    // Still in the same stage (a progress message): it keeps the instant it entered.
    after.since = before.kind == Kind::kRunning && before.stage == after.stage ? before.since : at;
    row.stage_started_at = after.since;
  } else {
    row.stage_started_at.reset();
  }
  if (after == before) return;

  EtaTypeStats& t = job.eta.types[row.content_type.value_or("")];
  const int64_t size = row.size_bytes.value_or(0);
  switch (before.kind) {
    case Kind::kNone:
      break;
    case Kind::kQueued: {
      --t.queued;
      t.queued_bytes -= size;
      auto& largest = t.queued_largest;
      if (auto it = std::find(largest.begin(), largest.end(), size);
          it != largest.end()) {
        largest.erase(it);
      }
      break;
    }
    case Kind::kRunning: {
      EtaStageStats& st = t.stages[before.stage];
      --st.running;
      st.running_bytes -= size;
      st.running_since_sum -= before.since - job.created_at;
      // A span is measured on the workers' clocks. One that began before its job was
      // created mixes a wrong clock (a machine that booted at 1970) with a right one,
      // so it counts from the job's creation.
      const Millis since = std::max(before.since, job.created_at);
      const int64_t span = Robust(st.done.spans, size, std::max<Millis>(0, at - since));
      st.done.spans.Add(size, span);
      if (const auto lanes = LaneKey(job)) st.by_lanes[*lanes].Add(size, span);
      // Leaving the job here, other than by completing it, ends the file in the stage.
      if (after.kind == Kind::kNone && row.status != FileStatus::kCompleted) ++st.done.ended;
      break;
    }
    case Kind::kAfter:
      --t.stages[before.stage].after;
      t.stages[before.stage].after_bytes -= size;
      break;
  }
  switch (after.kind) {
    case Kind::kNone:
      if (before.kind != Kind::kNone &&
          job.count(FileStatus::kQueued) + job.count(FileStatus::kProcessing) == 0) {
        job.eta.files_done_at = at;  // the last file has settled
      }
      break;
    case Kind::kQueued: {
      ++t.queued;
      t.queued_bytes += size;
      job.eta.files_done_at.reset();
      auto& largest = t.queued_largest;
      if (largest.size() < kEtaLargestQueued || size > largest.back()) {
        if (largest.size() == kEtaLargestQueued) largest.pop_back();
        largest.insert(
            std::upper_bound(largest.begin(), largest.end(), size, std::greater<>()),
            size);
      }
      break;
    }
    case Kind::kRunning: {
      EtaStageStats& st = t.stages[after.stage];
      ++st.running;
      st.running_bytes += size;
      st.running_since_sum += after.since - job.created_at;
      break;
    }
    case Kind::kAfter:
      ++t.stages[after.stage].after;
      t.stages[after.stage].after_bytes += size;
      break;
  }
}

std::optional<EtaHistory> EtaLearnedFrom(const JobSnapshot& job) {
  if (job.status != JobStatus::kCompleted && job.status != JobStatus::kCompletedWithFailures) {
    return std::nullopt;
  }
  EtaHistory h;
  for (const auto& [type, t] : job.eta.types) {
    auto& stages = h.types[type];
    bool any = false;
    for (size_t s = 0; s < kEtaStages; ++s) {
      stages[s] = t.stages[s].done;
      any = any || t.stages[s].done.spans.n > 0;
    }
    if (!any) h.types.erase(type);
  }
  if (job.started_at && job.completed_at && job.eta.files_done_at &&
      *job.eta.files_done_at > *job.started_at && *job.completed_at >= *job.eta.files_done_at) {
    h.jobs = 1;
    h.files_ms = *job.eta.files_done_at - *job.started_at;
    h.finalize_ms = *job.completed_at - *job.eta.files_done_at;
    h.finalize_by_files.Add(job.files_total(), h.finalize_ms);
  }
  if (h.jobs == 0 && h.types.empty()) return std::nullopt;
  return h;
}

std::optional<double> EtaModelSecondsRemaining(const JobSnapshot& job, Millis now,
                                               const EtaHistory* prior) {
  if (IsFinal(job.status)) return 0.0;
  if (job.status != JobStatus::kRunning || !job.started_at) return std::nullopt;
  const CostModel costs = CostsOf(job, prior);
  if (!costs.any) return std::nullopt;
  // The model runs on the workers' clock (spans, started_at, files_done_at). A reader
  // whose clock is behind theirs (the skew the append route allows, an import of
  // events whose clocks were wrong) reads at the job's start or its last event,
  // whichever is later, at the earliest: before them, elapsed times come out
  // negative, and so did the estimate.
  now = std::max({now, job.updated_at, *job.started_at});

  const double since_created = double(now - job.created_at);
  double work = 0, longest = 0;  // ms of lane time; the longest single file in flight
  const std::optional<Millis> timeout = job.eta.extract_timeout_ms;
  int64_t running = 0;
  size_t i = 0;
  const int64_t unsettled =
      job.count(FileStatus::kQueued) + job.count(FileStatus::kProcessing);
  std::optional<FewFiles> few;
  if (unsettled <= kScheduleFiles) few.emplace();
  for (const auto& [type, t] : job.eta.types) {
    const TypeCosts& c = costs.types[i++];
    // The largest waiting files one by one (a timeout may cap them), the rest by sums.
    double n = double(t.queued), bytes = double(t.queued_bytes);
    for (const int64_t size : t.queued_largest) {
      const double one = WaitingRestOf(c, 1, double(size), timeout);
      work += one;
      if (few) few->waiting.push_back(one);
      n -= 1;
      bytes -= double(size);
    }
    const double rest = WaitingRestOf(c, n, bytes, timeout);
    work += rest;
    if (few) FewFiles::Add(few->waiting, n, rest);
    for (size_t s = 0; s < kEtaStages; ++s) {
      const EtaStageStats& st = t.stages[s];
      if (st.after > 0) {
        const double after = RestOf(c, s + 1, double(st.after), double(st.after_bytes));
        work += after;
        if (few) FewFiles::Add(few->between, double(st.after), after);
      }
      if (st.running == 0) continue;
      const double n = double(st.running), bytes = double(st.running_bytes);
      double predicted = c[s].fit.At(n, bytes), goes_on = c[s].goes_on;
      if (s == 0 && timeout && predicted >= n * double(*timeout)) {
        predicted = n * double(*timeout);  // given up at the timeout, as failed
        goes_on = 0;
      }
      const double elapsed = n * since_created - double(st.running_since_sum);
      // Work that overruns its prediction is not done: keep a share of it.
      const double left = std::max(predicted - elapsed, kOverrunKeep * predicted) +
                          goes_on * RestOf(c, s + 1, n, bytes);
      work += left;
      if (few) FewFiles::Add(few->in_flight, n, left);
      longest = std::max(longest, left / n);
      running += st.running;
    }
  }
  const double lanes = std::clamp(LanesOf(job, now, running), 1.0,
                                  double(std::max<int64_t>(unsettled, 1)));
  // (Never below zero, even for a job whose sums an older build folded: docs/formats.md.)
  // A few files left are scheduled one by one; many, as work over the lanes.
  const double over_lanes = few ? Makespan(lanes, std::move(*few)) : work / lanes;
  double file_work_ms = std::max({over_lanes, longest, 0.0});
  const Millis start = *job.started_at;
  if (!job.scan_complete && prior && prior->jobs > 0) {
    // The job's scope is not known yet: it takes at least as long as a typical one.
    const double typical = double(prior->files_ms) / double(prior->jobs);
    file_work_ms = std::max(file_work_ms, typical - double(now - start));
  }

  // Finalizing is work too (FinalizeMs), less what has run of it.
  const double files_end = job.eta.files_done_at ? double(*job.eta.files_done_at - start)
                                                 : double(now - start) + file_work_ms;
  double finalize_ms = FinalizeMs(prior, job.files_total(), files_end);
  if (job.eta.files_done_at) finalize_ms -= double(now - *job.eta.files_done_at);
  // (Never below zero: a last file dated before the job's start makes files_end so.)
  finalize_ms = std::max({finalize_ms, 0.02 * files_end, 0.0});
  return (file_work_ms + finalize_ms) / 1000;
}

std::optional<EtaRange> EtaRangeAt(const JobSnapshot& job, Millis now,
                                   const EtaIntervalModel& model, const EtaHistory* prior) {
  if (IsFinal(job.status)) return std::nullopt;
  const auto point = EtaSecondsRemaining(job, now, prior);
  if (!point) return std::nullopt;
  int64_t spans = 0;  // files past their first stage
  for (const auto& [type, t] : job.eta.types) spans += t.stages[0].done.spans.n;
  const double finished = double(std::max<int64_t>(spans, 1));
  const double spread = model.base + model.evidence / std::sqrt(finished);
  return EtaRange{*point, *point * std::exp(-model.z_low * spread),
                  *point * std::exp(model.z_high * spread)};
}

std::optional<double> EtaSecondsRemaining(const JobSnapshot& job, Millis now,
                                          const EtaHistory* prior) {
  const auto model = EtaModelSecondsRemaining(job, now, prior);
  if (!model || IsFinal(job.status) || !job.eta.filter) return model;
  const EtaFilter& f = *job.eta.filter;
  // The shown instant moves with the model's drift since the last event; what the
  // filter holds back is bounded, because the filter follows the job's own model while
  // a read's model also weighs the prior, and a disagreement between the two is not
  // jitter to smooth.
  const double hold = std::clamp(double(f.shown_end) - double(f.model_end),
                                 -kFilterHoldShare * *model * 1000,
                                 kFilterHoldShare * *model * 1000);
  const double shown_end = double(now) + *model * 1000 + hold;
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
  const int64_t workers = job.workers_count.value_or(0);
  if (!f || f->scope != scope || f->workers != workers) {
    // New scope or new lanes: news the estimate shows at once.
    f = EtaFilter{at, model_end, model_end, scope, workers};
    return;
  }
  const double elapsed = double(at - job.started_at.value_or(at));
  const double tau = std::max(kFilterMinTau, kFilterTauShare * elapsed);
  const double alpha = 1 - std::exp(-double(at - f->at) / tau);
  const double before = double(f->shown_end);  // the drift between events is not kept
  // A jump larger than a share of what remains is news, not noise: let it through.
  const double remaining = std::max(1.0, double(model_end - at));
  const double jump = std::abs(double(model_end) - before) / remaining;
  const double pass = double(model_end) > before ? kFilterPassRise : kFilterPassJump;
  const double a = jump > pass ? 1.0 : alpha;
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
  if (!job.workers_count) {
    // Only a job that has not reported its workers runs on the average (LanesOf). On
    // the workers' clock, as the spans are: when the files were really in flight.
    EtaConcurrency& c = job.eta.concurrency;
    c = ConcurrencyAt(job, std::max(job.updated_at, c.at));
    c.running = InFlight(job);
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

void EtaAccuracyTotals::Add(const EtaAccuracyTotals& other) {
  for (size_t i = 0; i < at.size(); ++i) {
    at[i].count += other.at[i].count;
    at[i].abs_error_micros += other.at[i].abs_error_micros;
    for (size_t b = 0; b < kBounds.size(); ++b) at[i].le[b] += other.at[i].le[b];
  }
}

}  // namespace jobstate::engine
