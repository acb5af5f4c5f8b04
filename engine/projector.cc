#include "engine/projector.h"

#include <algorithm>
#include <cassert>
#include <set>
#include <string>

namespace jobstate::engine {

namespace {

constexpr size_t kFilePageSize = 1024;  // rows per page when cancelling queued files

Status InvalidTransition(std::string what, std::string_view from, std::string_view to) {
  Status s = Status::FailedPrecondition(
      "invalid_transition", what + ": " + std::string(from) + " -> " + std::string(to));
  s.mutable_details().from_state = std::string(from);
  s.mutable_details().to_state = std::string(to);
  return s;
}

Status JobFinal(const JobSnapshot& job) {
  Status s = Status::FailedPrecondition(
      "job_final", "job " + job.job_id + " is " + std::string(Name(job.status)) +
                       "; it accepts no further events");
  s.mutable_details().job_status = std::string(Name(job.status));
  return s;
}

Status FileNotFound(std::string_view uri) {
  return Status::NotFound("file_not_found",
                          "the job has discovered no file " + std::string(uri));
}

// Moves `row` to `to` at `at`, keeping the job's counters in step.
void MoveFile(JobSnapshot& job, FileRow& row, FileStatus to, Millis at) {
  const FileStatus from = row.status;
  --job.file_counts[static_cast<size_t>(from)];
  ++job.file_counts[static_cast<size_t>(to)];
  const int64_t size = row.size_bytes.value_or(0);
  if (!IsProcessed(from) && IsProcessed(to)) job.bytes_done += size;
  if (IsProcessed(from) && !IsProcessed(to)) job.bytes_done -= size;
  row.status = to;
  row.updated_at = at;
  if (IsProcessed(to)) row.completed_at = at;
}

void CloseOpenStages(JobSnapshot& job, StageStatus as, Millis at) {
  for (StageState& st : job.stages) {
    if (st.status == StageStatus::kRunning) {
      st.status = as;
      st.completed_at = at;
    }
  }
}

// Folds one event's payload. Each handler checks everything before changing anything.
class Folder {
 public:
  Folder(JobSnapshot& job, FileTable& files, const RecordedEvent& re)
      : job_(job), files_(files), at_(re.event.occurred_at) {}

  Status operator()(const JobCreated& p) {
    if (job_.version != 0) {
      return InvalidTransition("job " + job_.job_id, Name(job_.status), "pending");
    }
    job_.collection_name = p.collection_name;
    job_.job_type = p.job_type;
    job_.processing_type = p.processing_type;
    job_.pipeline_mode = p.pipeline_mode;
    job_.files_expected = p.files_expected;
    job_.metadata_json = p.metadata_json;
    if (p.metadata_json)
      job_.eta.extract_timeout_ms = EtaExtractTimeoutOf(*p.metadata_json);
    job_.status = JobStatus::kPending;
    job_.created_at = at_;
    return Status::OK();
  }

  Status operator()(const JobStarted&) {
    if (job_.status != JobStatus::kPending) {
      return InvalidTransition("job " + job_.job_id, Name(job_.status), "running");
    }
    Start();
    return Status::OK();
  }

  Status operator()(const StageStarted& p) {
    const int s = static_cast<int>(p.stage);
    if (s <= job_.current_stage) {
      // Already opened, or a later stage has opened: stages never reopen.
      return InvalidTransition("stage " + std::string(Name(p.stage)),
                               Name(job_.stages[s].status), "running");
    }
    if (job_.status == JobStatus::kPending) Start();
    for (int i = job_.current_stage + 1; i < s; ++i) {
      job_.stages[i].status = StageStatus::kSkipped;
    }
    if (p.stage == Stage::kFinalizing) CloseOpenStages(job_, StageStatus::kCompleted, at_);
    job_.stages[s].status = StageStatus::kRunning;
    job_.stages[s].started_at = at_;
    job_.current_stage = static_cast<int8_t>(s);
    return Status::OK();
  }

  Status operator()(const StageCompleted& p) {
    StageState& st = job_.stages[static_cast<size_t>(p.stage)];
    if (st.status != StageStatus::kRunning) {
      return InvalidTransition("stage " + std::string(Name(p.stage)), Name(st.status),
                               "completed");
    }
    st.status = StageStatus::kCompleted;
    st.completed_at = at_;
    if (p.stage == Stage::kScanning) job_.scan_complete = true;
    return Status::OK();
  }

  Status operator()(const FilesDiscovered& p) {
    if (job_.scan_complete) {
      return InvalidTransition("files of job " + job_.job_id + " (scanning completed)",
                               "scan_complete", "discovered");
    }
    std::set<std::string_view> seen;
    for (size_t i = 0; i < p.files.size(); ++i) {
      const DiscoveredFile& f = p.files[i];
      auto found = files_.Find(f.uri);
      if (!found.has_value()) return found.error();
      if (*found || !seen.insert(f.uri).second) {
        return Status::AlreadyExists("duplicate_file",
                                     *found
                                         ? "the job already has a file " + f.uri
                                         : "the event lists the file " + f.uri + " twice")
            .WithPointer("/data/files/" + std::to_string(i));
      }
    }
    for (const DiscoveredFile& f : p.files) {
      FileRow row;
      row.ordinal = static_cast<uint64_t>(job_.files_total());
      row.uri = f.uri;
      row.name = f.name;
      row.size_bytes = f.size_bytes;
      row.content_type = f.content_type;
      row.updated_at = at_;
      ++job_.file_counts[static_cast<size_t>(FileStatus::kQueued)];
      job_.bytes_total += f.size_bytes.value_or(0);
      EtaFileChanged(job_, row, EtaSpot{}, at_);
      Status s = files_.Put(row, std::nullopt);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  Status operator()(const FileStarted& p) {
    return WithFile(p.uri, {FileStatus::kQueued}, FileStatus::kProcessing, [&](FileRow& r) {
      ++r.attempts;
      r.started_at = at_;
      r.completed_at.reset();
      if (p.stage) r.stage = p.stage;
      r.phase = FilePhase::kStarted;
    });
  }

  Status operator()(const FileProgress& p) {
    return WithFile(p.uri, {FileStatus::kProcessing}, FileStatus::kProcessing,
                    [&](FileRow& r) {
                      r.stage = p.stage;
                      r.phase = p.phase;
                      if (p.message) r.progress_message = p.message;
                    });
  }

  Status operator()(const FileCompleted& p) {
    return WithFile(p.uri, kUnfinished, FileStatus::kCompleted, [&](FileRow& r) {
      r.chunks = p.chunks;
      r.tokens = p.tokens;
      r.pages = p.pages;
      job_.chunks += p.chunks.value_or(0);
      job_.tokens += p.tokens.value_or(0);
      job_.pages += p.pages.value_or(0);
    });
  }

  Status operator()(const FileFailed& p) {
    return WithFile(p.uri, kUnfinished, FileStatus::kFailed, [&](FileRow& r) {
      r.error_code = p.error_code;
      r.error_message = p.error_message;
      r.retryable = p.retryable;
      if (p.stage) r.stage = p.stage;
    });
  }

  Status operator()(const FileSkipped& p) {
    return WithFile(p.uri, kUnfinished, FileStatus::kSkipped,
                    [&](FileRow& r) { r.skip_reason = p.reason; });
  }

  Status operator()(const FileRetried& p) {
    return WithFile(p.uri, {FileStatus::kFailed}, FileStatus::kQueued, [&](FileRow& r) {
      r.completed_at.reset();
      r.error_code.reset();
      r.error_message.reset();
      r.retryable.reset();
    });
  }

  Status operator()(const FileCancelled& p) {
    return WithFile(p.uri, kUnfinished, FileStatus::kCancelled,
                    [&](FileRow& r) { r.cancel_reason = p.reason; });
  }

  Status operator()(const JobProgress& p) {
    job_.progress_message = p.message;
    return Status::OK();
  }

  Status operator()(const JobWorkers& p) {
    job_.workers_count = p.count;
    job_.worker_ids = p.worker_ids.value_or(std::vector<std::string>{});
    return Status::OK();
  }

  Status operator()(const JobCompleted& p) {
    const int64_t unfinished =
        job_.count(FileStatus::kQueued) + job_.count(FileStatus::kProcessing);
    if (unfinished > 0) {
      return Status::FailedPrecondition(
          "files_unfinished", std::to_string(unfinished) +
                                  " files are still queued or processing; skip or fail "
                                  "them before completing the job");
    }
    job_.status = job_.count(FileStatus::kFailed) > 0 ? JobStatus::kCompletedWithFailures
                                                      : JobStatus::kCompleted;
    job_.completed_at = at_;
    CloseOpenStages(job_, StageStatus::kCompleted, at_);
    job_.result = p.result;
    job_.billing = p.billing;
    return Status::OK();
  }

  Status operator()(const JobFailed& p) {
    Status s = CancelQueuedFiles(std::nullopt);
    if (!s.ok()) return s;
    job_.status = JobStatus::kFailed;
    job_.error_code = p.error_code;
    job_.error_message = p.error_message;
    job_.result = p.result;
    job_.completed_at = at_;
    CloseOpenStages(job_, StageStatus::kStopped, at_);
    return Status::OK();
  }

  Status operator()(const JobCancelled& p) {
    Status s = CancelQueuedFiles(p.reason);
    if (!s.ok()) return s;
    job_.status = JobStatus::kCancelled;
    job_.cancelled_by = p.cancelled_by;
    job_.cancel_reason = p.reason;
    job_.cancelled_at = at_;
    job_.completed_at = at_;
    CloseOpenStages(job_, StageStatus::kStopped, at_);
    return Status::OK();
  }

 private:
  static constexpr std::initializer_list<FileStatus> kUnfinished = {FileStatus::kQueued,
                                                                    FileStatus::kProcessing};

  void Start() {
    job_.status = JobStatus::kRunning;
    job_.started_at = at_;
  }

  // Loads the file named `uri`, checks that it is in one of `from` (only `processing`
  // counts once the job is final: the file settles work that really happened), moves
  // it to `to`, lets `change` fill in the event's fields, and stores it.
  template <class Change>
  Status WithFile(const std::string& uri, std::initializer_list<FileStatus> from,
                  FileStatus to, Change change) {
    auto found = files_.Find(uri);
    if (!found.has_value()) return found.error();
    if (!*found) return IsFinal(job_.status) ? JobFinal(job_) : FileNotFound(uri);
    FileRow& row = **found;
    const FileStatus before = row.status;
    if (IsFinal(job_.status)) {
      if (before != FileStatus::kProcessing || !IsProcessed(to)) return JobFinal(job_);
    } else if (std::find(from.begin(), from.end(), before) == from.end()) {
      return InvalidTransition("file " + uri, Name(before), Name(to));
    }
    const EtaSpot spot = EtaSpotOf(row);
    MoveFile(job_, row, to, at_);
    change(row);
    EtaFileChanged(job_, row, spot, at_);
    return files_.Put(row, before);
  }

  // job.failed and job.cancelled: every queued file becomes cancelled.
  Status CancelQueuedFiles(const std::optional<std::string>& reason) {
    uint64_t from = 0;
    while (job_.count(FileStatus::kQueued) > 0) {
      auto page = files_.ListByStatus(FileStatus::kQueued, from, kFilePageSize);
      if (!page.has_value()) return page.error();
      if (page->empty()) {
        return Status::Corruption("job " + job_.job_id +
                                  ": queued count disagrees with the file rows");
      }
      for (FileRow& row : *page) {
        const EtaSpot spot = EtaSpotOf(row);
        MoveFile(job_, row, FileStatus::kCancelled, at_);
        row.cancel_reason = reason;
        EtaFileChanged(job_, row, spot, at_);
        Status s = files_.Put(row, FileStatus::kQueued);
        if (!s.ok()) return s;
      }
      from = page->back().ordinal + 1;
    }
    return Status::OK();
  }

  JobSnapshot& job_;
  FileTable& files_;
  const Millis at_;
};

bool SettlesFile(EventType t) {
  return t == EventType::kFileCompleted || t == EventType::kFileFailed ||
         t == EventType::kFileSkipped;
}

}  // namespace

int64_t JobSnapshot::files_total() const {
  int64_t n = 0;
  for (int64_t c : file_counts) n += c;
  return n;
}

int64_t JobSnapshot::files_processed() const {
  return files_total() - count(FileStatus::kQueued) - count(FileStatus::kProcessing);
}

int32_t ComputePercentTenths(const JobSnapshot& job) {
  if (job.status == JobStatus::kCompleted ||
      job.status == JobStatus::kCompletedWithFailures) {
    return 1000;
  }
  int64_t denominator = job.files_total();
  if (!job.scan_complete && job.files_expected) {
    denominator = std::max(denominator, *job.files_expected);
  }
  if (denominator <= 0) return 0;
  const int64_t tenths = job.files_processed() * 1000 / denominator;
  return static_cast<int32_t>(std::min<int64_t>(tenths, 999));
}

Status Apply(JobSnapshot& job, FileTable& files, const RecordedEvent& re) {
  assert(re.version == job.version + 1 && "the sequencer assigns consecutive versions");
  const EventType type = re.event.type();
  if (job.version == 0 && type != EventType::kJobCreated) {
    return Status::NotFound("job_not_found", "no job " + re.event.job_id);
  }
  if (job.version > 0 && IsFinal(job.status) && !SettlesFile(type)) return JobFinal(job);

  const bool was_final = IsFinal(job.status);
  Status s = std::visit(Folder(job, files, re), re.event.data);
  if (!s.ok()) return s;

  job.version = re.version;
  job.updated_at = re.event.occurred_at;
  job.last_recorded_at = re.recorded_at;
  // percent never decreases, and stays where it was once a job fails or is cancelled.
  const bool frozen = job.status == JobStatus::kFailed || job.status == JobStatus::kCancelled;
  if (!was_final && !frozen) {
    job.percent_tenths = std::max(job.percent_tenths, ComputePercentTenths(job));
  }
  EtaAfterEvent(job, !was_final && IsFinal(job.status), re.recorded_at);
  return Status::OK();
}

}  // namespace jobstate::engine
