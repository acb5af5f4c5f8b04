// Every move of EVENTS.md's state machines, accepted and rejected, with the exact code.
#include <functional>

#include <gtest/gtest.h>

#include "tests/engine/fold_harness.h"
#include "tests/support/job_scenario.h"
#include "tests/support/status_matchers.h"

namespace jobstate::testing {
namespace {

using engine::Event;
using engine::FileStatus;
using engine::JobStatus;
using engine::Stage;

constexpr char kA[] = "s3://bucket/a.pdf";
constexpr char kB[] = "s3://bucket/b.pdf";

// The events that bring a job into a named state.
using Setup = std::function<std::vector<Event>(JobScenario&)>;

std::vector<Event> NoJob(JobScenario&) { return {}; }
std::vector<Event> Pending(JobScenario& j) { return {j.Created()}; }
std::vector<Event> Running(JobScenario& j) {
  return {j.Created(), j.Started(), j.Discovered({kA})};
}
std::vector<Event> CompletedJob(JobScenario& j) {
  return {j.Created(), j.Started(), j.Discovered({kA}), j.FileCompleted(kA), j.Completed()};
}
std::vector<Event> CompletedWithFailures(JobScenario& j) {
  return {j.Created(), j.Started(), j.Discovered({kA}), j.FileFailed(kA), j.Completed()};
}
std::vector<Event> FailedJob(JobScenario& j) {
  return {j.Created(), j.Started(), j.Discovered({kA}), j.Failed()};
}
std::vector<Event> CancelledJob(JobScenario& j) {
  return {j.Created(), j.Started(), j.Discovered({kA}), j.Cancelled()};
}

struct JobCase {
  const char* name;
  Setup setup;
  std::function<Event(JobScenario&)> event;
  StatusCode code;
  const char* reason;  // "" when accepted
  JobStatus after;     // the status once accepted
};

using Make = std::function<Event(JobScenario&)>;
const Make kCreated = [](JobScenario& j) { return j.Created(); };
const Make kStarted = [](JobScenario& j) { return j.Started(); };
const Make kScanStarted = [](JobScenario& j) { return j.StageStarted(Stage::kScanning); };
const Make kScanCompleted = [](JobScenario& j) { return j.StageCompleted(Stage::kScanning); };
const Make kDiscovered = [](JobScenario& j) { return j.Discovered({kB}); };
const Make kProgress = [](JobScenario& j) { return j.Progress("half way"); };
const Make kWorkers = [](JobScenario& j) { return j.Workers(4); };
const Make kCompleted = [](JobScenario& j) { return j.Completed(); };
const Make kFailed = [](JobScenario& j) { return j.Failed(); };
const Make kCancelled = [](JobScenario& j) { return j.Cancelled(); };

constexpr auto OK = StatusCode::kOk;
constexpr auto kNF = StatusCode::kNotFound;
constexpr auto kFP = StatusCode::kFailedPrecondition;

const JobCase kJobCases[] = {
    // No job yet: only job.created.
    {"none_created", NoJob, kCreated, OK, "", JobStatus::kPending},
    {"none_started", NoJob, kStarted, kNF, "job_not_found", {}},
    {"none_stage", NoJob, kScanStarted, kNF, "job_not_found", {}},
    {"none_discovered", NoJob, kDiscovered, kNF, "job_not_found", {}},
    {"none_progress", NoJob, kProgress, kNF, "job_not_found", {}},
    {"none_completed", NoJob, kCompleted, kNF, "job_not_found", {}},
    {"none_cancelled", NoJob, kCancelled, kNF, "job_not_found", {}},
    // Pending.
    {"pending_created", Pending, kCreated, kFP, "invalid_transition", {}},
    {"pending_started", Pending, kStarted, OK, "", JobStatus::kRunning},
    {"pending_stage_implies_start", Pending, kScanStarted, OK, "", JobStatus::kRunning},
    {"pending_stage_completed", Pending, kScanCompleted, kFP, "invalid_transition", {}},
    {"pending_discovered", Pending, kDiscovered, OK, "", JobStatus::kPending},
    {"pending_progress", Pending, kProgress, OK, "", JobStatus::kPending},
    {"pending_workers", Pending, kWorkers, OK, "", JobStatus::kPending},
    {"pending_completed_without_files", Pending, kCompleted, OK, "", JobStatus::kCompleted},
    {"pending_failed", Pending, kFailed, OK, "", JobStatus::kFailed},
    {"pending_cancelled", Pending, kCancelled, OK, "", JobStatus::kCancelled},
    // Running (one queued file).
    {"running_created", Running, kCreated, kFP, "invalid_transition", {}},
    {"running_started", Running, kStarted, kFP, "invalid_transition", {}},
    {"running_stage", Running, kScanStarted, OK, "", JobStatus::kRunning},
    {"running_discovered", Running, kDiscovered, OK, "", JobStatus::kRunning},
    {"running_completed_unfinished", Running, kCompleted, kFP, "files_unfinished", {}},
    {"running_failed", Running, kFailed, OK, "", JobStatus::kFailed},
    {"running_cancelled", Running, kCancelled, OK, "", JobStatus::kCancelled},
};

// Every final state absorbs every job-level event with job_final.
const std::pair<const char*, Setup> kFinalStates[] = {
    {"completed", CompletedJob},
    {"completed_with_failures", CompletedWithFailures},
    {"failed", FailedJob},
    {"cancelled", CancelledJob},
};
const Make kAllJobEvents[] = {kCreated, kStarted,   kScanStarted, kScanCompleted,
                              kDiscovered, kProgress, kWorkers,   kCompleted,
                              kFailed,  kCancelled};

class JobTransitionTest : public ::testing::TestWithParam<JobCase> {};

TEST_P(JobTransitionTest, FollowsTheJobStateMachine) {
  const JobCase& c = GetParam();
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll(c.setup(job)), IsOk());
  const Status s = h.Fold(c.event(job));
  if (c.code == StatusCode::kOk) {
    ASSERT_THAT(s, IsOk());
    EXPECT_EQ(h.snap().status, c.after);
  } else {
    EXPECT_THAT(s, StatusIs(c.code, c.reason));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, JobTransitionTest, ::testing::ValuesIn(kJobCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(JobTransitionTest, FinalStatesAbsorbEveryJobEvent) {
  for (const auto& [name, setup] : kFinalStates) {
    for (const Make& make : kAllJobEvents) {
      JobScenario job("job-1");
      FoldHarness h(job.job_id());
      ASSERT_THAT(h.FoldAll(setup(job)), IsOk()) << name;
      const engine::JobSnapshot before = h.snap();
      const Event e = make(job);
      const Status s = h.Fold(e);
      EXPECT_THAT(s, StatusIs(StatusCode::kFailedPrecondition, "job_final"))
          << name << " + " << engine::Name(e.type());
      EXPECT_EQ(s.details().job_status, name);
      EXPECT_EQ(h.snap(), before);
    }
  }
}

// ---- Files ----------------------------------------------------------------------

// The events that bring file kA into a status inside a running job.
std::vector<Event> FileIn(JobScenario& j, FileStatus s) {
  std::vector<Event> ev = {j.Created(), j.Started(), j.Discovered({kA, kB})};
  switch (s) {
    case FileStatus::kQueued: break;
    case FileStatus::kProcessing: ev.push_back(j.FileStarted(kA)); break;
    case FileStatus::kCompleted: ev.push_back(j.FileCompleted(kA)); break;
    case FileStatus::kFailed: ev.push_back(j.FileFailed(kA)); break;
    case FileStatus::kSkipped: ev.push_back(j.FileSkipped(kA)); break;
    case FileStatus::kCancelled: ev.push_back(j.FileCancelled(kA)); break;
  }
  return ev;
}

struct FileEvent {
  const char* name;
  std::function<Event(JobScenario&, const std::string&)> make;
  FileStatus to;
};
const FileEvent kFileEvents[] = {
    {"started", [](JobScenario& j, const std::string& u) { return j.FileStarted(u); },
     FileStatus::kProcessing},
    {"progress",
     [](JobScenario& j, const std::string& u) { return j.FileProgress(u, Stage::kChunking); },
     FileStatus::kProcessing},
    {"completed", [](JobScenario& j, const std::string& u) { return j.FileCompleted(u); },
     FileStatus::kCompleted},
    {"failed", [](JobScenario& j, const std::string& u) { return j.FileFailed(u); },
     FileStatus::kFailed},
    {"skipped", [](JobScenario& j, const std::string& u) { return j.FileSkipped(u); },
     FileStatus::kSkipped},
    {"retried", [](JobScenario& j, const std::string& u) { return j.FileRetried(u); },
     FileStatus::kQueued},
    {"cancelled", [](JobScenario& j, const std::string& u) { return j.FileCancelled(u); },
     FileStatus::kCancelled},
};

// accepted[from][event index in kFileEvents]
constexpr bool kAccepted[6][7] = {
    //            start  prog  compl  fail  skip  retry  cancel
    /*queued*/     {true, false, true, true, true, false, true},
    /*processing*/ {false, true, true, true, true, false, true},
    /*completed*/  {false, false, false, false, false, false, false},
    /*failed*/     {false, false, false, false, false, true, false},
    /*skipped*/    {false, false, false, false, false, false, false},
    /*cancelled*/  {false, false, false, false, false, false, false},
};

TEST(FileTransitionTest, EveryFromStateAndEvent) {
  for (int from = 0; from < engine::kFileStatusCount; ++from) {
    for (size_t ev = 0; ev < std::size(kFileEvents); ++ev) {
      const FileStatus from_status = static_cast<FileStatus>(from);
      const FileEvent& fe = kFileEvents[ev];
      SCOPED_TRACE(std::string(engine::Name(from_status)) + " + file." + fe.name);
      JobScenario job("job-1");
      FoldHarness h(job.job_id());
      ASSERT_THAT(h.FoldAll(FileIn(job, from_status)), IsOk());
      const Status s = h.Fold(fe.make(job, kA));
      if (kAccepted[from][ev]) {
        ASSERT_THAT(s, IsOk());
        EXPECT_EQ(h.Row(kA).status, fe.to);
        EXPECT_EQ(h.snap().count(fe.to), fe.to == FileStatus::kQueued ? 2 : 1);
      } else {
        EXPECT_THAT(s, StatusIs(StatusCode::kFailedPrecondition, "invalid_transition"));
        EXPECT_EQ(s.details().from_state, engine::Name(from_status));
        EXPECT_EQ(s.details().to_state, engine::Name(fe.to));
        EXPECT_EQ(h.Row(kA).status, from_status);
      }
    }
  }
}

TEST(FileTransitionTest, UnknownUriIsFileNotFound) {
  for (const FileEvent& fe : kFileEvents) {
    JobScenario job("job-1");
    FoldHarness h(job.job_id());
    ASSERT_THAT(h.FoldAll(Running(job)), IsOk());
    EXPECT_THAT(h.Fold(fe.make(job, "s3://bucket/nope.pdf")),
                StatusIs(StatusCode::kNotFound, "file_not_found"))
        << fe.name;
  }
}

TEST(FileTransitionTest, ProcessingFilesSettleAfterCancelOrFailure) {
  for (const Make& stop : {kCancelled, kFailed}) {
    for (const FileEvent& fe : kFileEvents) {
      JobScenario job("job-1");
      FoldHarness h(job.job_id());
      ASSERT_THAT(h.FoldAll(FileIn(job, FileStatus::kProcessing)), IsOk());
      ASSERT_THAT(h.Fold(stop(job)), IsOk());
      // The queued file was cancelled with the job; the processing one was not.
      EXPECT_EQ(h.Row(kB).status, FileStatus::kCancelled);
      ASSERT_EQ(h.Row(kA).status, FileStatus::kProcessing);
      const JobStatus status = h.snap().status;
      const bool settles = fe.to == FileStatus::kCompleted || fe.to == FileStatus::kFailed ||
                           fe.to == FileStatus::kSkipped;
      const Status s = h.Fold(fe.make(job, kA));
      if (settles) {
        ASSERT_THAT(s, IsOk()) << fe.name;
        EXPECT_EQ(h.Row(kA).status, fe.to);
        EXPECT_EQ(h.snap().status, status);  // the job's status does not change
        EXPECT_EQ(h.snap().files_processed(), 2);
      } else {
        EXPECT_THAT(s, StatusIs(StatusCode::kFailedPrecondition, "job_final")) << fe.name;
      }
      // A cancelled (formerly queued) file never settles.
      EXPECT_THAT(h.Fold(job.FileCompleted(kB)),
                  StatusIs(StatusCode::kFailedPrecondition, "job_final"));
    }
  }
}

// ---- Stages ---------------------------------------------------------------------

TEST(StageTransitionTest, StagesOpenInOrderAndNeverReopen) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll({job.Created(), job.StageStarted(Stage::kScanning),
                         job.StageStarted(Stage::kChunking)}),
              IsOk());
  EXPECT_EQ(h.snap().stages[1].status, engine::StageStatus::kSkipped);
  EXPECT_EQ(h.snap().current_stage, 2);
  // Overlapping stages: scanning is still open while chunking runs.
  EXPECT_EQ(h.snap().stages[0].status, engine::StageStatus::kRunning);

  Status s = h.Fold(job.StageStarted(Stage::kExtracting));  // after a later one
  EXPECT_THAT(s, StatusIs(StatusCode::kFailedPrecondition, "invalid_transition"));
  EXPECT_EQ(s.details().from_state, "skipped");
  EXPECT_THAT(h.Fold(job.StageStarted(Stage::kChunking)),  // already open
              StatusIs(StatusCode::kFailedPrecondition, "invalid_transition"));
  EXPECT_THAT(h.Fold(job.StageCompleted(Stage::kTagging)),  // never opened
              StatusIs(StatusCode::kFailedPrecondition, "invalid_transition"));
  ASSERT_THAT(h.Fold(job.StageCompleted(Stage::kScanning)), IsOk());
  EXPECT_TRUE(h.snap().scan_complete);
  EXPECT_THAT(h.Fold(job.StageCompleted(Stage::kScanning)),  // already closed
              StatusIs(StatusCode::kFailedPrecondition, "invalid_transition"));
  EXPECT_THAT(h.Fold(job.StageStarted(Stage::kScanning)),  // never reopens
              StatusIs(StatusCode::kFailedPrecondition, "invalid_transition"));
}

TEST(StageTransitionTest, FinalizingClosesEarlierStages) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll({job.Created(), job.StageStarted(Stage::kScanning),
                         job.StageStarted(Stage::kEmbedding),
                         job.StageStarted(Stage::kFinalizing)}),
              IsOk());
  EXPECT_EQ(h.snap().stages[0].status, engine::StageStatus::kCompleted);
  EXPECT_EQ(h.snap().stages[4].status, engine::StageStatus::kCompleted);
  EXPECT_EQ(h.snap().stages[5].status, engine::StageStatus::kRunning);
  EXPECT_EQ(h.snap().current_stage, 5);
}

TEST(StageTransitionTest, CancelStopsOpenStages) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll({job.Created(), job.StageStarted(Stage::kScanning),
                         job.StageCompleted(Stage::kScanning),
                         job.StageStarted(Stage::kExtracting), job.Cancelled()}),
              IsOk());
  EXPECT_EQ(h.snap().stages[0].status, engine::StageStatus::kCompleted);
  EXPECT_EQ(h.snap().stages[1].status, engine::StageStatus::kStopped);
  EXPECT_EQ(h.snap().cancelled_by, "tester");
  EXPECT_EQ(h.snap().cancelled_at, h.snap().completed_at);
}

// ---- Discovery and completion ---------------------------------------------------

TEST(DiscoveryTest, DuplicateUriIsRejectedWithinTheJobAndTheEvent) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll(Running(job)), IsOk());
  const Status known = h.Fold(job.Discovered({kB, kA}));
  EXPECT_THAT(known, StatusIs(StatusCode::kAlreadyExists, "duplicate_file"));
  // Which file, where: the problem names the one the client sent twice.
  EXPECT_EQ(known.details().pointer, "/data/files/1");
  EXPECT_EQ(known.message(), std::string("the job already has a file ") + kA);
  const Status twice = h.Fold(job.Discovered({kB, kB}));
  EXPECT_THAT(twice, StatusIs(StatusCode::kAlreadyExists, "duplicate_file"));
  EXPECT_EQ(twice.details().pointer, "/data/files/1");
  EXPECT_EQ(twice.message(), std::string("the event lists the file ") + kB + " twice");
  EXPECT_EQ(h.snap().files_total(), 1);
}

TEST(DiscoveryTest, NoDiscoveryAfterScanningCompleted) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll({job.Created(), job.StageStarted(Stage::kScanning),
                         job.Discovered({kA}), job.StageCompleted(Stage::kScanning)}),
              IsOk());
  EXPECT_THAT(h.Fold(job.Discovered({kB})),
              StatusIs(StatusCode::kFailedPrecondition, "invalid_transition"));
}

TEST(CompletionTest, CompletedWithFailuresWhenAnyFileFailed) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll({job.Created(), job.Started(), job.Discovered({kA, kB}),
                         job.FileFailed(kA), job.FileRetried(kA), job.FileStarted(kA),
                         job.FileCompleted(kA), job.FileFailed(kB), job.Completed()}),
              IsOk());
  EXPECT_EQ(h.snap().status, JobStatus::kCompletedWithFailures);
  EXPECT_EQ(h.Row(kA).attempts, 1);
  EXPECT_EQ(h.snap().percent_tenths, 1000);
  EXPECT_EQ(h.snap().count(FileStatus::kCompleted), 1);
  EXPECT_EQ(h.snap().count(FileStatus::kFailed), 1);
}

TEST(CompletionTest, RetryLeavesTheProcessedCountAgain) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll({job.Created(), job.Started(), job.Discovered({kA, kB}),
                         job.FileFailed(kA)}),
              IsOk());
  EXPECT_EQ(h.snap().files_processed(), 1);
  EXPECT_EQ(h.snap().bytes_done, 100);
  const int32_t percent = h.snap().percent_tenths;
  ASSERT_THAT(h.Fold(job.FileRetried(kA)), IsOk());
  EXPECT_EQ(h.snap().files_processed(), 0);
  EXPECT_EQ(h.snap().bytes_done, 0);
  EXPECT_EQ(h.snap().percent_tenths, percent);  // never decreasing
}

TEST(CompletionTest, FailedJobCancelsQueuedFilesAndFreezesPercent) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  std::vector<std::string> uris;
  for (int i = 0; i < 2500; ++i) uris.push_back("s3://b/f" + std::to_string(i));
  ASSERT_THAT(h.FoldAll({job.Created(), job.Started(), job.Discovered(std::vector<std::string>(
                                                           uris.begin(), uris.begin() + 1000)),
                         job.Discovered(std::vector<std::string>(uris.begin() + 1000,
                                                                 uris.begin() + 2000)),
                         job.Discovered(std::vector<std::string>(uris.begin() + 2000,
                                                                 uris.end())),
                         job.FileCompleted(uris[0]), job.FileStarted(uris[1]), job.Failed()}),
              IsOk());
  EXPECT_EQ(h.snap().count(FileStatus::kCancelled), 2498);
  EXPECT_EQ(h.snap().count(FileStatus::kQueued), 0);
  EXPECT_EQ(h.snap().count(FileStatus::kProcessing), 1);
  EXPECT_EQ(h.snap().percent_tenths, 0);  // 1 of 2500 processed before the failure
  EXPECT_EQ(h.snap().error_code, "boom");
}

TEST(CompletionTest, StageStartedImpliesJobStarted) {
  JobScenario job("job-1");
  FoldHarness h(job.job_id());
  ASSERT_THAT(h.FoldAll({job.Created(), job.StageStarted(Stage::kScanning)}), IsOk());
  EXPECT_EQ(h.snap().status, JobStatus::kRunning);
  EXPECT_EQ(h.snap().started_at, h.snap().stages[0].started_at);
}

}  // namespace
}  // namespace jobstate::testing
