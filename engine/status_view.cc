#include "engine/status_view.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "engine/job_store.h"

namespace jobstate::engine {

namespace {

// 1234567 -> "1,234,567"
std::string WithThousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string Capitalized(std::string_view s) {
  std::string out(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// The message the engine writes from the counts when workers sent none.
std::string CountsMessage(const JobSnapshot& s) {
  const std::string of = WithThousands(s.files_processed()) + " of " +
                         WithThousands(s.files_total()) + " files";
  switch (s.status) {
    case JobStatus::kPending:
      return s.current_stage < 0 ? "Waiting to start" : "Pending: " + of;
    case JobStatus::kRunning:
      if (s.current_stage < 0) return "Running: " + of;
      return Capitalized(Name(static_cast<Stage>(s.current_stage))) + ": " + of;
    case JobStatus::kCompleted:
    case JobStatus::kCompletedWithFailures:
      return "Completed: " + of;
    case JobStatus::kFailed:
      return "Failed: " + s.error_message.value_or("the job failed");
    case JobStatus::kCancelled:
      return "Cancelled: " + of;
  }
  return of;
}

ProgressView BuildProgress(const JobSnapshot& s, Millis now, const ViewOptions& options) {
  ProgressView p;
  if (s.status == JobStatus::kCancelled) {
    p.current_stage = "cancelled";
  } else if (s.current_stage >= 0) {
    p.current_stage = std::string(Name(static_cast<Stage>(s.current_stage)));
  }
  if (s.current_stage >= 0) {
    p.stage_description = std::string(Description(static_cast<Stage>(s.current_stage)));
    p.stage_index = s.current_stage + 1;
  }
  for (int i = 0; i < kStageCount; ++i) {
    const StageState& st = s.stages[i];
    p.stages.push_back({static_cast<Stage>(i), st.status, st.started_at, st.completed_at});
  }
  p.scan_complete = s.scan_complete;
  p.files_total = s.files_total();
  p.files_processed = s.files_processed();
  p.files_queued = s.count(FileStatus::kQueued);
  p.files_processing = s.count(FileStatus::kProcessing);
  p.files_completed = s.count(FileStatus::kCompleted);
  p.files_failed = s.count(FileStatus::kFailed);
  p.files_skipped = s.count(FileStatus::kSkipped);
  p.files_cancelled = s.count(FileStatus::kCancelled);
  p.bytes_total = s.bytes_total;
  p.bytes_done = s.bytes_done;
  p.percent = s.percent_tenths / 10.0;
  if (s.started_at) {
    const Millis end = s.completed_at ? std::min(*s.completed_at, now) : now;
    p.elapsed_seconds = std::max<Millis>(0, end - *s.started_at) / 1000;
    if (end > *s.started_at && s.files_processed() > 0) {
      p.files_per_second =
          std::round(1000.0 * double(s.files_processed()) / double(end - *s.started_at) * 100) / 100;
    }
  }
  p.stalled = s.status == JobStatus::kRunning &&
              now - s.last_recorded_at >= options.stall_after_ms;
  p.last_event_at = s.last_recorded_at;
  return p;
}

ResultView BuildResult(const JobSnapshot& s) {
  ResultView r;
  r.files_indexed = s.count(FileStatus::kCompleted);
  r.files_failed = s.count(FileStatus::kFailed);
  r.files_skipped = s.count(FileStatus::kSkipped);
  r.files_cancelled = s.count(FileStatus::kCancelled);
  if (s.started_at && s.completed_at) {
    r.duration_seconds = std::max<Millis>(0, *s.completed_at - *s.started_at) / 1000;
  }
  if (s.result) {
    r.warnings = s.result->warnings;
    r.extra_json = s.result->extra_json;
  }
  r.chunks = s.chunks;
  r.tokens = s.tokens;
  r.eta_accuracy = EtaAccuracyOf(s);
  if (r.eta_accuracy) {
    for (auto& e : r.eta_accuracy->error) {
      if (e) e = std::round(*e * 1e4) / 1e4;  // four decimals: 0.01% of the duration
    }
  }
  return r;
}

BillingView BuildBilling(const JobSnapshot& s, const Billing& b) {
  BillingView v;
  v.cost = b.cost;
  v.credits_remaining = b.credits_remaining;
  v.rate_per_credit = b.rate_per_credit;
  v.rate_currency = b.rate_currency;
  v.processing_type = b.processing_type.value_or(s.processing_type.value_or(ProcessingType::kBasic));
  v.pages_processed = b.pages_processed.value_or(s.pages);
  v.credits_used = b.credits_used.value_or(static_cast<double>(v.pages_processed) *
                                           CreditsPerPage(v.processing_type));
  return v;
}

}  // namespace

Result<JobStatusView> ReadStatusView(const JobStore& store, const JobSnapshot& job, Millis now,
                                     bool historical, const ViewOptions& options) {
  auto prior = store.GetEtaHistory(job, historical ? std::optional(now) : std::nullopt);
  if (!prior.has_value()) return Err(prior.error());
  return BuildStatusView(job, now, options, *prior ? &**prior : nullptr);
}

double CreditsPerPage(ProcessingType t) { return t == ProcessingType::kAdvanced ? 2.5 : 1.0; }

JobStatusView BuildStatusView(const JobSnapshot& s, Millis now, const ViewOptions& options,
                              const EtaHistory* prior) {
  JobStatusView v;
  v.job_id = s.job_id;
  v.status = s.status;
  v.collection_name = s.collection_name;
  v.job_type = s.job_type;
  v.progress_message = s.progress_message.value_or(CountsMessage(s));
  v.progress = BuildProgress(s, now, options);
  if (IsFinal(s.status)) v.result = BuildResult(s);
  const bool completed =
      s.status == JobStatus::kCompleted || s.status == JobStatus::kCompletedWithFailures;
  if (completed && s.billing) v.billing = BuildBilling(s, *s.billing);
  if (s.status == JobStatus::kFailed) {
    v.error_code = s.error_code;
    v.error_message = s.error_message;
  }
  if (s.status == JobStatus::kCancelled) {
    v.cancelled_by = s.cancelled_by;
    v.cancelled_at = s.cancelled_at;
  }
  v.created_at = s.created_at;
  v.updated_at = s.updated_at;
  v.started_at = s.started_at;
  v.completed_at = s.completed_at;
  v.version = s.version;
  // Every ETA field is null once the job is final (API.md), and until there is
  // evidence for an estimate.
  if (auto eta = EtaRangeAt(s, now, options.eta_interval, prior)) {
    v.estimated_time_remaining_seconds = static_cast<int64_t>(std::llround(eta->seconds));
    v.progress.estimated_completion_at = now + std::llround(eta->seconds * 1000);
    v.progress.eta_low_seconds = static_cast<int64_t>(std::floor(eta->low_seconds));
    v.progress.eta_high_seconds = static_cast<int64_t>(std::ceil(eta->high_seconds));
  }
  return v;
}

}  // namespace jobstate::engine
