// The ETA's per-stage model, its schedule over the lanes and the history prior, on
// hand-built jobs: a stage-at-a-time pipeline (waiting at a barrier is not work),
// stragglers, lanes added and removed, and a prior that gives a first estimate and
// yields to the job's own evidence. Every instant is given; nothing is timed.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/eta.h"
#include "tests/engine/fold_harness.h"
#include "tests/support/job_scenario.h"
#include "tests/support/status_matchers.h"

namespace jobstate::testing {
namespace {

using engine::Stage;

std::vector<std::string> Uris(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("s3://b/" + std::to_string(i));
  return out;
}

// One job of `files` files of 100 bytes, started, with `workers` lanes when given.
class Job {
 public:
  Job(std::string id, int files, std::optional<int64_t> workers, uint64_t salt = 0)
      : job_(id, kT0, salt), h_(id), uris_(Uris(files)) {
    std::vector<engine::Event> events{job_.Created(), job_.Started(),
                                      job_.StageStarted(Stage::kScanning), job_.Discovered(uris_)};
    if (workers) events.push_back(job_.Workers(*workers));
    EXPECT_THAT(h_.FoldAll(events), IsOk());
  }
  // Files [from, to) start, run `ms` in one stage and complete.
  void Run(int from, int to, engine::Millis ms) {
    for (int i = from; i < to; ++i) Fold(job_.FileStarted(uris_[i]));
    job_.Advance(ms);
    for (int i = from; i < to; ++i) Fold(job_.FileCompleted(uris_[i]));
  }
  void Fold(const engine::Event& e) { ASSERT_THAT(h_.Fold(e), IsOk()); }
  // Seconds from the start to the scenario's clock.
  double Elapsed() const { return double(job_.now() - *h_.snap().started_at) / 1000; }
  double Model(const engine::EtaHistory* prior = nullptr) const {
    return engine::EtaModelSecondsRemaining(h_.snap(), job_.now(), prior).value_or(-1);
  }

  JobScenario job_;
  FoldHarness h_;
  std::vector<std::string> uris_;
};

// The default finalizing share when nothing has been learned.
double WithFinalizing(double files_left_s, double elapsed_s, double share = 0.10) {
  return files_left_s + share * (elapsed_s + files_left_s);
}

TEST(EtaScheduleTest, StageAtATimeWaitingAtTheBarrierIsNotWork) {
  Job j("staged", 4, 2);
  const auto& u = j.uris_;
  // Extracting, two at a time; the first two then wait 3 s for the barrier.
  for (int i : {0, 1}) j.Fold(j.job_.FileStarted(u[i]));
  j.job_.Advance(1000);
  for (int i : {0, 1}) j.Fold(j.job_.FileStageDone(u[i], Stage::kExtracting));
  j.job_.Advance(2000);
  for (int i : {2, 3}) j.Fold(j.job_.FileStarted(u[i]));
  j.job_.Advance(1000);
  for (int i : {2, 3}) j.Fold(j.job_.FileStageDone(u[i], Stage::kExtracting));
  // Chunking: the first two take 500 ms after their 3 s wait.
  for (int i : {0, 1}) j.Fold(j.job_.FileProgress(u[i], Stage::kChunking));
  j.job_.Advance(500);
  for (int i : {0, 1}) j.Fold(j.job_.FileStageDone(u[i], Stage::kChunking));

  ASSERT_EQ(j.h_.snap().eta.types.size(), 1u);  // one content type
  const auto& t = j.h_.snap().eta.types.begin()->second;
  EXPECT_EQ(t.stages[0].done.spans.n, 4);
  EXPECT_NEAR(double(t.stages[1].done.spans.sum_y), 2 * 500.0, 4);  // the wait is not in it
  EXPECT_EQ(t.stages[1].after, 2);  // finished chunking, waiting for tagging
  EXPECT_EQ(t.stages[0].after, 2);  // finished extracting, waiting for chunking
  // Left: two files' chunking (2 × 500 ms) over two lanes; later stages have no
  // evidence yet, so they cost nothing.
  EXPECT_NEAR(j.Model(), WithFinalizing(0.5, j.Elapsed()), 0.01);
}

TEST(EtaScheduleTest, NoMoreLanesThanFilesLeftAndNeverShorterThanTheStraggler) {
  Job j("straggler", 4, 2);
  j.Run(0, 3, 1000);  // three files of 1 s
  j.Fold(j.job_.FileStarted(j.uris_[3]));
  j.job_.Advance(200);
  // One file left, 200 ms into a predicted 1 s: 800 ms on one lane, not 400 on two.
  EXPECT_NEAR(j.Model(), WithFinalizing(0.8, j.Elapsed()), 0.01);
}

TEST(EtaScheduleTest, LanesFollowJobWorkersAddedAndRemoved) {
  Job j("lanes", 8, 2);
  j.Run(0, 2, 1000);
  // Six files of 1 s wait.
  EXPECT_NEAR(j.Model(), WithFinalizing(3.0, j.Elapsed()), 0.01);
  j.Fold(j.job_.Workers(3));
  EXPECT_NEAR(j.Model(), WithFinalizing(2.0, j.Elapsed()), 0.01);
  j.Fold(j.job_.Workers(1));
  EXPECT_NEAR(j.Model(), WithFinalizing(6.0, j.Elapsed()), 0.02);
}

// The mean span (s) of the job's one type and stage: of all, or of those that ended
// under `lanes` lanes. The harness's clock moves a millisecond an event, so a batch of
// files started together runs a little longer than the time the test advances.
double MeanSpan(const Job& j, std::optional<int64_t> lanes = std::nullopt) {
  const auto& stage = j.h_.snap().eta.types.begin()->second.stages[0];
  const engine::EtaFitSums& sums = lanes ? stage.by_lanes.at(*lanes) : stage.done.spans;
  return double(sums.sum_y) / double(sums.n) / 1000;
}

// Spans that ran under more lanes ran longer (shared cores): once 200 spans have ended
// under the lanes in force, the fits are scaled to what those spans took. (All files
// are one size, so the fit is the mean span.)
TEST(EtaScheduleTest, SpansStretchedByMoreLanesScaleTheWorkLeftUnderThem) {
  Job j("stretch", 700, 1);
  j.Run(0, 200, 1000);  // under one lane
  j.Fold(j.job_.Workers(2));
  // Nothing has ended under two lanes yet: 500 files at the mean over two lanes.
  EXPECT_NEAR(j.Model(), WithFinalizing(500 * MeanSpan(j) / 2, j.Elapsed()), 0.1);
  j.Run(200, 399, 1500);  // 199 longer spans under two: not enough yet
  EXPECT_NEAR(j.Model(), WithFinalizing(301 * MeanSpan(j) / 2, j.Elapsed()), 0.1);
  j.Run(399, 400, 1500);
  ASSERT_GT(MeanSpan(j, 2), 1.1 * MeanSpan(j));  // so the scaling shows
  EXPECT_NEAR(j.Model(), WithFinalizing(300 * MeanSpan(j, 2) / 2, j.Elapsed()), 0.1);
  j.Fold(j.job_.Workers(1));
  // Back to one lane, whose spans were shorter than the fit.
  ASSERT_LT(MeanSpan(j, 1), 0.9 * MeanSpan(j));
  EXPECT_NEAR(j.Model(), WithFinalizing(300 * MeanSpan(j, 1), j.Elapsed()), 0.1);
}

// More lanes never make spans shorter: files that happened to take longer under one
// lane do not make two lanes look faster than the fit (nor, back under one, slower).
TEST(EtaScheduleTest, LaneStretchOnlyGrowsWithLanes) {
  Job j("contention", 700, 1);
  j.Run(0, 200, 1500);
  j.Fold(j.job_.Workers(2));
  j.Run(200, 400, 1000);
  ASSERT_LT(MeanSpan(j, 2), MeanSpan(j));
  EXPECT_NEAR(j.Model(), WithFinalizing(300 * MeanSpan(j) / 2, j.Elapsed()), 0.1);
  j.Fold(j.job_.Workers(1));
  EXPECT_NEAR(j.Model(), WithFinalizing(300 * MeanSpan(j), j.Elapsed()), 0.1);
}

// Spans that ended before the job reported its workers say nothing of any lane count;
// 64 lanes and more share one entry, so the snapshot stays bounded.
TEST(EtaScheduleTest, SpansAreCountedPerLaneOnceTheJobReportsItsWorkers) {
  Job j("unreported", 10, std::nullopt);
  j.Run(0, 3, 1000);
  j.Fold(j.job_.Workers(2));
  j.Run(3, 4, 1000);
  j.Fold(j.job_.Workers(100));
  j.Run(4, 5, 1000);
  j.Fold(j.job_.Workers(5000));
  j.Run(5, 6, 1000);
  const auto& stage = j.h_.snap().eta.types.begin()->second.stages[0];
  EXPECT_EQ(stage.done.spans.n, 6);
  ASSERT_EQ(stage.by_lanes.size(), 2u);
  EXPECT_EQ(stage.by_lanes.at(2).n, 1);
  EXPECT_EQ(stage.by_lanes.at(64).n, 2);
}

// The lanes a job's model implies, given the lane time (s) its files have left.
double ImpliedLanes(const Job& j, double lane_seconds_left) {
  const double files_left = (j.Model() - 0.10 * j.Elapsed()) / 1.10;  // WithFinalizing
  return lane_seconds_left / files_left;
}

TEST(EtaScheduleTest, LanesAreInferredFromFilesInFlightWithoutJobWorkers) {
  Job j("inferred", 9, std::nullopt);
  j.Run(0, 3, 10'000);  // three at once for 10 s
  for (int i : {3, 4, 5}) j.Fold(j.job_.FileStarted(j.uris_[i]));
  // Three queued and three just started, 10 s each: three lanes (but for the few
  // milliseconds of the scenario's steps, when one or two were in flight).
  EXPECT_NEAR(ImpliedLanes(j, 60), 3.0, 0.01);
}

// Without job.workers, a pool the job shares with others (or workers that pause between
// files) has every number of its files in flight in turn; the lanes are the number
// averaged over time, so a read does not swing with the instant it lands on.
TEST(EtaScheduleTest, WithoutJobWorkersTheLanesAreTheFilesInFlightOnAverage) {
  Job j("shared", 60, std::nullopt);
  for (int k = 0; k < 10;
       ++k) {  // one file for 500 ms, then three for 500 ms: two on average
    j.Run(4 * k, 4 * k + 1, 500);
    j.Run(4 * k + 1, 4 * k + 4, 500);
  }
  // 20 files of 500 ms are left: 10 s of lane time.
  const double idle = ImpliedLanes(j, 10);  // none in flight now: one lane by the count
  EXPECT_NEAR(idle, 2.0, 0.2);
  for (int i : {40, 41, 42}) j.Fold(j.job_.FileStarted(j.uris_[i]));
  const double busy = ImpliedLanes(j, 10);  // three just started: three by the count
  EXPECT_NEAR(busy, idle, 0.01);
}

TEST(EtaScheduleTest, FilesThatFailEarlySkipTheLaterStagesInTheEstimate) {
  Job j("failing", 6, 1);
  const auto& u = j.uris_;
  // Two files: extract 1 s, embed 1 s; one fails in extracting after 1 s.
  for (int i : {0, 1, 2}) {
    j.Fold(j.job_.FileStarted(u[i]));
    j.job_.Advance(1000);
    if (i == 2) {
      j.Fold(j.job_.FileFailed(u[i]));
      continue;
    }
    j.Fold(j.job_.FileStageDone(u[i], Stage::kExtracting));
    j.Fold(j.job_.FileProgress(u[i], Stage::kEmbedding));
    j.job_.Advance(1000);
    j.Fold(j.job_.FileCompleted(u[i]));
  }
  // Three spans of extracting, one ended the file: a queued file reaches embedding with
  // chance (3 - 1 + 1) / (3 + 1) = 0.75. Three queued files on one lane.
  const double per_file = 1.0 + 0.75 * 1.0;
  EXPECT_NEAR(j.Model(), WithFinalizing(3 * per_file, j.Elapsed()), 0.02);
}

TEST(EtaScheduleTest, ASpanHeldUpByAnOutageCountsAsAFewPredictions) {
  Job j("outage", 8, 1);
  j.Run(0, 3, 1000);  // a fit: 1 s a file
  j.Run(3, 4, 60'000);  // held up for a minute
  const auto& spans = j.h_.snap().eta.types.begin()->second.stages[0].done.spans;
  EXPECT_NEAR(double(spans.sum_y), 3 * 1000 + 3 * 1000, 25);  // clipped to 3 predictions
  // Four files left at (3 + 3) / 4 = 1.5 s each, on one lane.
  EXPECT_NEAR(j.Model(), WithFinalizing(6.0, j.Elapsed()), 0.03);
}

// A job of files with sizes, extracting at 1 ms a KB (learned from three files of 1 to
// 2 MB under one lane), then on `workers` lanes; its metadata may declare an extraction
// timeout (`extract_timeout_s`).
class SizedJob {
 public:
  explicit SizedJob(std::optional<std::string> metadata, int64_t workers = 1)
      : job_("sized"), h_("sized") {
    engine::JobCreated created;
    created.collection_name = "docs";
    created.metadata_json = std::move(metadata);
    Fold(job_.Make(created));
    Fold(job_.Started());
    Fold(job_.Workers(1));
    for (auto [uri, mb] : {std::pair{"s3://b/a", 1}, {"s3://b/b", 2}, {"s3://b/c", 1}}) {
      Fold(job_.Discovered({uri}, mb * 1'000'000));
      Fold(job_.FileStarted(uri));
      job_.Advance(mb * 1000);
      Fold(job_.FileCompleted(uri));
    }
    if (workers != 1) Fold(job_.Workers(workers));
  }
  void Fold(const engine::Event& e) { ASSERT_THAT(h_.Fold(e), IsOk()); }
  double Elapsed() const { return double(job_.now() - *h_.snap().started_at) / 1000; }
  double Model() const {
    return engine::EtaModelSecondsRemaining(h_.snap(), job_.now()).value_or(-1);
  }
  const std::vector<int64_t>& Largest() const {
    return h_.snap().eta.types.at("application/pdf").queued_largest;
  }

  JobScenario job_;
  FoldHarness h_;
};

TEST(EtaScheduleTest, AFilePredictedPastTheExtractionTimeoutCostsTheTimeoutAlone) {
  SizedJob with(R"({"extract_timeout_s": 3, "owner": "ops"})");
  SizedJob without(std::nullopt);
  ASSERT_EQ(with.h_.snap().eta.extract_timeout_ms, 3000);
  ASSERT_FALSE(without.h_.snap().eta.extract_timeout_ms.has_value());
  for (SizedJob* j : {&with, &without}) {
    j->Fold(j->job_.Discovered({"s3://b/small"}, 500'000));
    j->Fold(j->job_.Discovered({"s3://b/huge"}, 20'000'000));
  }
  // 0.5 s for the small file either way; the huge one is given up after 3 s instead of
  // taking its 20 s.
  EXPECT_NEAR(without.Model(), WithFinalizing(20.5, without.Elapsed()), 0.05);
  EXPECT_NEAR(with.Model(), WithFinalizing(3.5, with.Elapsed()), 0.05);

  // In flight, 1 s into its extracting: 2 s left, and no later stage.
  with.Fold(with.job_.FileStarted("s3://b/huge"));
  with.job_.Advance(1000);
  EXPECT_NEAR(with.Model(), WithFinalizing(2.5, with.Elapsed()), 0.05);
}

TEST(EtaScheduleTest, TheLargestWaitingFilesAreKnownBySize) {
  SizedJob j(R"({"extract_timeout_s": 2.5})");
  EXPECT_EQ(j.h_.snap().eta.extract_timeout_ms, 2500);
  for (int mb = 1; mb <= 6; ++mb) {
    j.Fold(j.job_.Discovered({"s3://b/" + std::to_string(mb) + "mb"}, mb * 1'000'000));
  }
  EXPECT_EQ(j.Largest(),
            (std::vector<int64_t>{6'000'000, 5'000'000, 4'000'000, 3'000'000}));
  j.Fold(j.job_.FileStarted("s3://b/5mb"));  // frees its slot
  EXPECT_EQ(j.Largest(), (std::vector<int64_t>{6'000'000, 4'000'000, 3'000'000}));
  j.Fold(j.job_.Discovered({"s3://b/half"}, 500'000));  // takes it
  EXPECT_EQ(j.Largest(),
            (std::vector<int64_t>{6'000'000, 4'000'000, 3'000'000, 500'000}));
  j.Fold(j.job_.FileStarted("s3://b/1mb"));  // not held: nothing changes
  EXPECT_EQ(j.Largest(),
            (std::vector<int64_t>{6'000'000, 4'000'000, 3'000'000, 500'000}));
  j.job_.Advance(1000);
  j.Fold(j.job_.FileCompleted("s3://b/1mb"));

  // Waiting: 2 MB known by its sums (2 s), 6, 4 and 3 MB capped at 2.5 s, 0.5 MB (0.5 s).
  // In flight: 5 MB, capped at 2.5 s and 1 s into it.
  EXPECT_NEAR(j.Model(), WithFinalizing(2 + 3 * 2.5 + 0.5 + 1.5, j.Elapsed()), 0.05);

  // Without a timeout the sizes serve the schedule of the last files: kept the same way.
  SizedJob plain(std::nullopt);
  plain.Fold(plain.job_.Discovered({"s3://b/x"}, 9'000'000));
  EXPECT_EQ(plain.Largest(), (std::vector<int64_t>{9'000'000}));
}

// The last few files are scheduled one by one: a large one runs on its lane while the
// other lane finishes the small ones and then idles.
TEST(EtaScheduleTest, TheLastFewFilesLeaveATailOnTheLanes) {
  SizedJob j(std::nullopt, /*workers=*/2);
  for (auto [uri, mb] : {std::pair{"s3://b/big", 6}, {"s3://b/x", 1}, {"s3://b/y", 1}}) {
    j.Fold(j.job_.Discovered({uri}, mb * 1'000'000));
  }
  // 8 s of work on two lanes: 6 s on one, 2 s on the other; not 4 s.
  EXPECT_NEAR(j.Model(), WithFinalizing(6.0, j.Elapsed()), 0.05);
  // In flight 1 s, the big file keeps its lane: 5 s left there, 2 s on the other.
  j.Fold(j.job_.FileStarted("s3://b/big"));
  j.job_.Advance(1000);
  EXPECT_NEAR(j.Model(), WithFinalizing(5.0, j.Elapsed()), 0.05);
  // Four more of 1 MB: six files of 1 s, five on the other lane while the big one runs
  // and the sixth after it, 6 s; the work over the lanes would say 5.5 s.
  for (const char* uri : {"s3://b/p", "s3://b/q", "s3://b/r", "s3://b/s"}) {
    j.Fold(j.job_.Discovered({uri}, 1'000'000));
  }
  EXPECT_NEAR(j.Model(), WithFinalizing(6.0, j.Elapsed()), 0.05);
}

TEST(EtaScheduleTest, OnlyAPositiveNumberOfSecondsIsAnExtractionTimeout) {
  EXPECT_EQ(engine::EtaExtractTimeoutOf(R"({"extract_timeout_s": 30})"), 30'000);
  EXPECT_EQ(engine::EtaExtractTimeoutOf(R"({"extract_timeout_s": 0.25})"), 250);
  EXPECT_EQ(engine::EtaExtractTimeoutOf(R"({"extract_timeout_s": 86400})"), 86'400'000);
  for (const char* text :
       {R"({})", R"({"extract_timeout_s": "30"})", R"({"extract_timeout_s": 0})",
        R"({"extract_timeout_s": -3})", R"({"extract_timeout_s": 86401})",
        R"({"extract_timeout_s": null})", R"({"limits": {"extract_timeout_s": 3}})",
        R"([3])", R"(not json)"}) {
    EXPECT_FALSE(engine::EtaExtractTimeoutOf(text).has_value()) << text;
  }
}

// What the prior is made of: a completed job's spans and its finalizing share.
engine::EtaHistory LessonOfAJobWithTwoSecondFiles() {
  Job p("teacher", 4, 2, /*salt=*/1);
  p.Run(0, 2, 2000);
  p.Run(2, 4, 2000);
  p.job_.Advance(400);  // finalizing
  p.Fold(p.job_.Completed());
  auto lesson = engine::EtaLearnedFrom(p.h_.snap());
  EXPECT_TRUE(lesson.has_value());
  return lesson.value_or(engine::EtaHistory{});
}

TEST(EtaPriorTest, ACompletedJobTeachesItsSpansAndFinalizing) {
  const engine::EtaHistory lesson = LessonOfAJobWithTwoSecondFiles();
  EXPECT_EQ(lesson.jobs, 1);
  ASSERT_EQ(lesson.types.size(), 1u);
  EXPECT_EQ(lesson.types.begin()->second[0].spans.n, 4);
  EXPECT_NEAR(double(lesson.types.begin()->second[0].spans.sum_y), 8000, 8);
  EXPECT_NEAR(double(lesson.finalize_ms), 400, 3);
  EXPECT_NEAR(double(lesson.files_ms), 4000, 15);  // each event is 1 ms after the last
  // Finalizing against the job's size: one point, (4 files, its finalizing).
  EXPECT_EQ(lesson.finalize_by_files.n, 1);
  EXPECT_EQ(lesson.finalize_by_files.sum_x, 4);
  EXPECT_EQ(lesson.finalize_by_files.sum_y, lesson.finalize_ms);

  // Failed and cancelled jobs teach nothing: their timings are not typical.
  Job f("failed", 2, 1, 2);
  f.Run(0, 1, 1000);
  f.Fold(f.job_.Failed());
  EXPECT_FALSE(engine::EtaLearnedFrom(f.h_.snap()).has_value());
  Job c("cancelled", 2, 1, 3);
  c.Run(0, 1, 1000);
  c.Fold(c.job_.Cancelled());
  EXPECT_FALSE(engine::EtaLearnedFrom(c.h_.snap()).has_value());
}

// A job of four files: two worker's clocks set back to 1970 (they booted without the
// time) start their files, and workers with the right time finish them 2 s later.
engine::EtaHistory LessonOfAJobWithClocksIn1970(uint64_t salt) {
  Job p("misclocked", 4, 2, salt);
  for (int i = 0; i < 4; ++i) {
    engine::Event started = p.job_.FileStarted(p.uris_[size_t(i)]);
    started.occurred_at = 86'400'000 + i;  // 1970-01-02
    p.Fold(started);
  }
  p.job_.Advance(2000);
  for (int i = 0; i < 4; ++i) p.Fold(p.job_.FileCompleted(p.uris_[size_t(i)]));
  p.job_.Advance(400);
  p.Fold(p.job_.Completed());
  auto lesson = engine::EtaLearnedFrom(p.h_.snap());
  EXPECT_TRUE(lesson.has_value());
  return lesson.value_or(engine::EtaHistory{});
}

TEST(EtaPriorTest, ASpanThatBeganBeforeItsJobCountsFromTheJobsCreation) {
  const engine::EtaHistory lesson = LessonOfAJobWithClocksIn1970(8);
  ASSERT_EQ(lesson.types.size(), 1u);
  const engine::EtaFitSums& spans = lesson.types.begin()->second[0].spans;
  EXPECT_EQ(spans.n, 4);
  // From the job's creation to each file's end: 2 s and the few ms of the events before
  // (each event is 1 ms after the last), not 57 years.
  EXPECT_GT(spans.sum_y, 4 * 2000);
  EXPECT_LT(spans.sum_y, 4 * 2020);
}

TEST(EtaPriorTest, OneJobCannotMoveThePriorMoreThanABoundedStep) {
  // Three jobs of 2 s files, then one whose lesson says 10 hours a file, finalizing
  // and file phase included (a clock that jumped inside the job).
  engine::EtaHistory prior;
  for (int i = 0; i < 3; ++i) prior.Learn(LessonOfAJobWithTwoSecondFiles());
  engine::EtaHistory added = prior, learned = prior;
  engine::EtaHistory poison = LessonOfAJobWithTwoSecondFiles();
  const int64_t hours = 10 * 3'600'000;
  for (auto& [type, stages] : poison.types) {
    stages[0].spans = {};
    for (int f = 0; f < 4; ++f) stages[0].spans.Add(100, hours);
  }
  poison.finalize_ms = poison.finalize_by_files.sum_y = hours;
  poison.finalize_by_files.sum_xy = 4.0 * hours;
  poison.files_ms = 4 * hours;
  added.Add(poison);
  learned.Learn(poison);
  // Added as they are, the sums would say a file costs 2.5 hours; learned, each of the
  // job's spans counts for at most three times the prior's 2 s.
  const auto& spans = learned.types.begin()->second[0].spans;
  const auto& before = prior.types.begin()->second[0].spans;
  EXPECT_EQ(spans.n, 16);
  EXPECT_NEAR(double(spans.sum_y), double(before.sum_y) * (1 + 3.0 * 4 / 12), 2);
  EXPECT_GT(added.types.begin()->second[0].spans.sum_y, 4 * hours);
  // Finalizing: three times the prior's 400 ms for four files, but at least the floor
  // of a second a job (times three).
  EXPECT_NEAR(double(learned.finalize_ms), 3 * 400 + 3 * 1000, 10);
  EXPECT_EQ(learned.finalize_by_files.n, 4);
  EXPECT_NEAR(double(learned.finalize_by_files.sum_y), double(learned.finalize_ms), 1);
  // The file phase: ten times the typical one (about 4 s).
  EXPECT_NEAR(double(learned.files_ms), double(prior.files_ms) * (1 + 10.0 / 3), 2);
  EXPECT_EQ(learned.jobs, 4);

  // A job within the bounds teaches what it took, as before: its files took 2.6 times
  // the prior's.
  engine::EtaHistory slower = LessonOfAJobWithTwoSecondFiles();
  for (auto& [type, stages] : slower.types) {
    stages[0].spans.sum_y = std::llround(2.6 * double(stages[0].spans.sum_y));
    stages[0].spans.sum_xy *= 2.6;
  }
  engine::EtaHistory via_learn = prior, via_add = prior;
  via_learn.Learn(slower);
  via_add.Add(slower);
  EXPECT_EQ(via_learn, via_add);
  // A content type the prior has not seen is weighed against the stage over every type.
  engine::EtaHistory new_type = poison;
  auto node = new_type.types.extract(new_type.types.begin());
  node.key() = "application/x-new";
  new_type.types.insert(std::move(node));
  engine::EtaHistory with_new = prior;
  with_new.Learn(new_type);
  EXPECT_NEAR(double(with_new.types.at("application/x-new")[0].spans.sum_y),
              double(before.sum_y) * 3.0 * 4 / 12, 2);
  // And before the prior holds three jobs' worth, a lesson is added as it is.
  engine::EtaHistory young, young_added;
  young.Learn(LessonOfAJobWithTwoSecondFiles());
  young_added.Add(LessonOfAJobWithTwoSecondFiles());
  young.Learn(poison);
  young_added.Add(poison);
  EXPECT_EQ(young.files_ms, young_added.files_ms);
  EXPECT_EQ(young.finalize_ms, young_added.finalize_ms);
}

TEST(EtaPriorTest, AMisclockedJobLeavesTheNextJobsEstimateAsItWas) {
  engine::EtaHistory clean, with_bad_clock;
  for (int i = 0; i < 3; ++i) {
    clean.Learn(LessonOfAJobWithTwoSecondFiles());
    with_bad_clock.Learn(LessonOfAJobWithTwoSecondFiles());
  }
  with_bad_clock.Learn(LessonOfAJobWithClocksIn1970(9));
  Job j("after", 12, 2, 10);
  j.Fold(j.job_.StageCompleted(Stage::kScanning));
  // Twelve files of about 2 s over two lanes, and finalizing: the job with wrong clocks
  // taught what it really took, so the estimate hardly moves.
  EXPECT_NEAR(j.Model(&with_bad_clock), j.Model(&clean), 0.1);
  EXPECT_NEAR(j.Model(&clean), 12.4, 0.1);
}

TEST(EtaPriorTest, GivesAFirstEstimateAndYieldsToTheJobsOwnEvidence) {
  const engine::EtaHistory prior = LessonOfAJobWithTwoSecondFiles();
  // Finalizing: what the one job of history took (below three jobs, their mean).
  const double finalize_s = double(prior.finalize_ms) / 1000;

  Job j("learner", 12, 2, 4);
  j.Fold(j.job_.StageCompleted(Stage::kScanning));  // the scope is known
  EXPECT_LT(j.Model(), 0);  // no evidence at all: no estimate
  // Twelve files of 2 s (the prior's) over two lanes.
  EXPECT_NEAR(j.Model(&prior), 12.0 + finalize_s, 0.02);

  // Eight of its own files take 2.2 s, near the prior's 2 s: the prior keeps most of
  // its four files' weight, exp(−2 · ln²(2.2 / 2) · 8) of it, and the cost is the
  // weighted mean; four files left over two lanes.
  j.Run(0, 2, 2200);
  j.Run(2, 4, 2200);
  j.Run(4, 6, 2200);
  j.Run(6, 8, 2200);
  const double w = std::exp(-2 * std::pow(std::log(2.2 / 2), 2) * 8);
  EXPECT_GT(w, 0.8);
  const double cost_s = (8 * 2.2 + w * 4 * 2) / (8 + w * 4);
  EXPECT_NEAR(j.Model(&prior), 2 * cost_s + finalize_s, 0.03);
  EXPECT_LT(j.Model(&prior), 2 * 2.2 + finalize_s - 0.1);  // not its own alone
}

TEST(EtaPriorTest, AJobUnlikeItsHistoryLeavesThePriorWithinAFewFiles) {
  const engine::EtaHistory prior = LessonOfAJobWithTwoSecondFiles();
  const double finalize_s = double(prior.finalize_ms) / 1000;

  // Its files take 0.5 s, a quarter of the prior's 2 s. Two of them leave the prior
  // exp(−2 · ln² 4 · 2) ≈ 0.05 of its weight; four, nothing that shows: the cost is
  // the job's own 0.5 s, eight files left over two lanes.
  Job j("unlike", 12, 2, 4);
  j.Fold(j.job_.StageCompleted(Stage::kScanning));
  j.Run(0, 2, 500);
  j.Run(2, 4, 500);
  EXPECT_NEAR(j.Model(&prior), 2.0 + finalize_s, 0.03);
  EXPECT_NEAR(j.Model(), WithFinalizing(2.0, j.Elapsed()), 0.02);  // the same without it
}

TEST(EtaPriorTest, FinalizingFollowsTheJobsSizeNotHowLongItsFilesTook) {
  // Three jobs of history: 10 files finalized in 1.1 s, 100 in 2 s, 1,000 in 11 s; the
  // least-squares line is 1 s + 10 ms a file.
  engine::EtaHistory prior;
  for (auto [files, ms] : {std::pair{10, 1100}, {100, 2000}, {1000, 11000}}) {
    engine::EtaHistory one;
    one.jobs = 1;
    one.files_ms = 60'000;  // a minute of files each (finalizing's share: about 8%)
    one.finalize_ms = ms;
    one.finalize_by_files.Add(files, ms);
    prior.Add(one);
  }
  Job j("sized", 4, 2, 6);
  j.Fold(j.job_.StageCompleted(Stage::kScanning));
  j.Run(0, 2, 1000);
  j.Run(2, 4, 1000);  // every file settled
  // The fit through the three points, at this job's 4 files.
  const double n = 3, sx = 1110, sy = 14100, sxx = 100 + 10'000 + 1'000'000,
               sxy = 10 * 1100 + 100 * 2000 + 1000 * 11000;
  const double b = (n * sxy - sx * sy) / (n * sxx - sx * sx), a = (sy - b * sx) / n;
  EXPECT_NEAR(j.Model(&prior), (a + b * 4) / 1000, 0.01);
  // However long the files took: a second job whose files stalled ten times as long.
  Job slow("stalled", 4, 2, 7);
  slow.Fold(slow.job_.StageCompleted(Stage::kScanning));
  slow.Run(0, 2, 10'000);
  slow.Run(2, 4, 10'000);
  EXPECT_NEAR(slow.Model(&prior), (a + b * 4) / 1000, 0.01);

  // History without the fit (a record from before it was kept): the share of the file
  // phase, as before.
  engine::EtaHistory old = prior;
  old.finalize_by_files = {};
  const double share = (double(old.finalize_ms) + 0.10 * 60'000) / (3 * 60'000 + 60'000);
  EXPECT_NEAR(slow.Model(&old), share * slow.Elapsed(), 0.02);
}

TEST(EtaPriorTest, BeforeTheScanCompletesAJobTakesAtLeastATypicalOnesTime) {
  const engine::EtaHistory prior = LessonOfAJobWithTwoSecondFiles();
  Job j("scanning", 1, 2, 5);  // one file found so far, scan still running
  const double typical_s = double(prior.files_ms) / 1000;
  EXPECT_GT(j.Model(&prior), typical_s - j.Elapsed());
  j.Fold(j.job_.StageCompleted(Stage::kScanning));
  EXPECT_LT(j.Model(&prior), typical_s - j.Elapsed());  // one 2 s file is all there is
}

}  // namespace
}  // namespace jobstate::testing
