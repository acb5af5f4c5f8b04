// The ETA's first model on hand-built jobs: the fit, the lanes, in-flight work that
// overruns, and finalizing as work. No timing: every instant is given.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/eta.h"
#include "engine/status_view.h"
#include "tests/engine/fold_harness.h"
#include "tests/support/job_scenario.h"
#include "tests/support/status_matchers.h"

namespace jobstate::testing {
namespace {

using engine::EtaSecondsRemaining;

class EtaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_THAT(h_.FoldAll({job_.Created(), job_.Started(),
                            job_.Discovered({"s3://b/a", "s3://b/b", "s3://b/c", "s3://b/d"}),
                            job_.Workers(2)}),
                IsOk());
    start_ = *h_.snap().started_at;
  }
  // The work model alone (the display filter has its own tests below).
  double Eta(engine::Millis t) { return *engine::EtaModelSecondsRemaining(h_.snap(), start_ + t); }

  JobScenario job_{"job-eta"};
  FoldHarness h_{"job-eta"};
  engine::Millis start_ = 0;
};

TEST_F(EtaTest, NoEvidenceNoEstimate) {
  EXPECT_FALSE(EtaSecondsRemaining(h_.snap(), start_ + 500).has_value());
}

TEST_F(EtaTest, WaitingWorkOverLanesPlusFinalizing) {
  // Each scenario event is 1 ms after the previous one; Advance() moves the clock on.
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/a"), job_.FileStarted("s3://b/b")}), IsOk());
  job_.Advance(1000 - (job_.now() - start_));
  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/a"), job_.FileCompleted("s3://b/b")}), IsOk());
  const engine::Millis done_ab = job_.now() - start_;
  // Two finished files of about 1 s each; two waiting, two lanes: about 1 s of file
  // work, then a tenth of the file phase for finalizing.
  const double eta = Eta(done_ab);
  const double file_phase = done_ab + 1000.0;
  EXPECT_NEAR(eta, (1000.0 + 0.1 * file_phase) / 1000, 0.02);

  // Both others start; half-way through, half of their work is left.
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/c"), job_.FileStarted("s3://b/d")}), IsOk());
  const engine::Millis started_cd = job_.now() - start_;
  const double half = Eta(started_cd + 500);
  EXPECT_NEAR(half, (500.0 + 0.1 * (started_cd + 1000.0)) / 1000, 0.03);
  // Long past their prediction, in-flight work is not assumed done: a quarter stays.
  const double overrun = Eta(started_cd + 5000);
  EXPECT_NEAR(overrun, (250.0 + 0.1 * (started_cd + 5250.0)) / 1000, 0.03);
  EXPECT_GT(overrun, half);  // a stall moves the completion out, it does not freeze it

  // All files settled: finalizing remains, and shrinks as it runs.
  job_.Advance(started_cd + 1000 - (job_.now() - start_));
  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/c"), job_.FileCompleted("s3://b/d")}), IsOk());
  const engine::Millis files_done = job_.now() - start_;
  EXPECT_NEAR(Eta(files_done), 0.1 * files_done / 1000, 0.01);
  EXPECT_LT(Eta(files_done + 100), Eta(files_done));
  EXPECT_GT(Eta(files_done + 100000), 0);  // never "0 s left" while the job runs
  ASSERT_THAT(h_.Fold(job_.Completed()), IsOk());
  EXPECT_EQ(Eta(files_done + 1), 0);
}

// A reader whose clock is behind the workers' (fuzz/events_fuzz found a job read a year
// before its own events) gets the estimate of the job's last event, not a negative one.
TEST_F(EtaTest, AReaderBehindTheWorkersClockGetsTheEstimateAtTheLastEvent) {
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/a"), job_.FileStarted("s3://b/b")}), IsOk());
  job_.Advance(1000);
  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/a"), job_.FileCompleted("s3://b/b")}), IsOk());
  const engine::Millis last = h_.snap().updated_at - start_;
  for (engine::Millis behind : {engine::Millis{1}, engine::Millis{60'000}, engine::Millis{31'536'000'000}}) {
    EXPECT_DOUBLE_EQ(Eta(last - behind), Eta(last)) << behind;
    const auto range = engine::EtaRangeAt(h_.snap(), start_ + last - behind);
    ASSERT_TRUE(range.has_value());
    EXPECT_GT(range->low_seconds, 0) << behind;
  }
  EXPECT_GT(Eta(last), 0);
}

// Nor does a worker whose clock is centuries behind the job's start: its file
// completes "before" the job began, and the estimate stays a duration.
TEST_F(EtaTest, AFileDatedBeforeTheJobStartedLeavesTheEstimateADuration) {
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/a"), job_.FileStarted("s3://b/b")}), IsOk());
  job_.Advance(1000);
  ASSERT_THAT(h_.Fold(job_.FileCompleted("s3://b/a")), IsOk());
  const engine::Millis centuries = engine::Millis{1000} * 86'400 * 365 * 1000;
  job_.Advance(-centuries);
  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/b"), job_.FileSkipped("s3://b/c"),
                          job_.FileSkipped("s3://b/d")}),
              IsOk());
  for (engine::Millis at : {-centuries, engine::Millis{0}, engine::Millis{5000}}) {
    EXPECT_GE(Eta(at), 0) << at;
    const auto range = engine::EtaRangeAt(h_.snap(), start_ + at);
    ASSERT_TRUE(range.has_value());
    EXPECT_GE(range->low_seconds, 0) << at;
  }
}

TEST_F(EtaTest, ProgressMovesAFileIntoItsNextStage) {
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/a"), job_.FileStarted("s3://b/b")}), IsOk());
  job_.Advance(1000);
  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/a"),
                          job_.FileProgress("s3://b/b", engine::Stage::kEmbedding)}),
              IsOk());
  ASSERT_EQ(h_.snap().eta.types.size(), 1u);  // one content type
  const auto& t = h_.snap().eta.types.begin()->second;
  // Both extracting spans are evidence; b now runs in embedding, since its progress.
  EXPECT_EQ(t.stages[0].done.spans.n, 2);
  EXPECT_EQ(t.stages[0].running, 0);
  EXPECT_EQ(t.stages[3].running, 1);
  const auto b = h_.Row("s3://b/b");
  EXPECT_EQ(b.stage_started_at, b.updated_at);
  EXPECT_EQ(t.stages[3].running_since_sum, *b.stage_started_at - h_.snap().created_at);
  // A further progress message in the same stage does not restart it. (The fold
  // replaces the snapshot, so `t` is not read after it.)
  const int64_t since_sum = t.stages[3].running_since_sum;
  job_.Advance(200);
  ASSERT_THAT(h_.Fold(job_.FileProgress("s3://b/b", engine::Stage::kEmbedding)), IsOk());
  EXPECT_EQ(h_.Row("s3://b/b").stage_started_at, b.stage_started_at);
  EXPECT_EQ(h_.snap().eta.types.begin()->second.stages[3].running_since_sum, since_sum);
}

// The accuracy record: each checkpoint keeps the completion the estimate predicted
// when `percent` reached it, and a completed job compares them with its end.
TEST_F(EtaTest, AccuracyRecordSamplesCheckpointsAndScoresTheEnd) {
  // a is skipped before any file finished: 25% is reached with no estimate (10% too).
  ASSERT_THAT(h_.Fold(job_.FileSkipped("s3://b/a")), IsOk());
  EXPECT_EQ(h_.snap().eta.checkpoints_passed, 2);
  EXPECT_FALSE(h_.snap().eta.predicted_end[0].has_value());
  EXPECT_FALSE(h_.snap().eta.predicted_end[1].has_value());

  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/b"), job_.FileStarted("s3://b/c")}), IsOk());
  job_.Advance(1000);
  ASSERT_THAT(h_.Fold(job_.FileCompleted("s3://b/b")), IsOk());  // 50%
  const engine::Millis at_half = h_.snap().last_recorded_at;
  const double eta_half = *EtaSecondsRemaining(h_.snap(), at_half);
  EXPECT_EQ(h_.snap().eta.checkpoints_passed, 3);
  EXPECT_EQ(h_.snap().eta.predicted_end[2], at_half + std::llround(eta_half * 1000));

  job_.Advance(500);
  ASSERT_THAT(h_.Fold(job_.FileCompleted("s3://b/c")), IsOk());  // 75%
  const engine::Millis at_75 = h_.snap().last_recorded_at;
  const double eta_75 = *EtaSecondsRemaining(h_.snap(), at_75);
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/d")}), IsOk());
  job_.Advance(1000);
  ASSERT_THAT(h_.Fold(job_.FileCompleted("s3://b/d")), IsOk());  // 99.9%: the last mark
  const engine::Millis at_90 = h_.snap().last_recorded_at;
  const double eta_90 = *EtaSecondsRemaining(h_.snap(), at_90);
  EXPECT_EQ(h_.snap().eta.checkpoints_passed, 5);
  EXPECT_FALSE(engine::EtaAccuracyOf(h_.snap()).has_value());  // still running

  job_.Advance(300);
  ASSERT_THAT(h_.Fold(job_.Completed()), IsOk());
  const engine::Millis end = h_.snap().last_recorded_at;
  EXPECT_EQ(h_.snap().eta.ended_at, end);
  EXPECT_EQ(h_.snap().eta.checkpoints_passed, 5);  // completing samples nothing more
  const auto accuracy = engine::EtaAccuracyOf(h_.snap());
  ASSERT_TRUE(accuracy.has_value());
  const double duration = double(end - start_);
  EXPECT_FALSE(accuracy->error[0].has_value());
  EXPECT_FALSE(accuracy->error[1].has_value());
  EXPECT_NEAR(*accuracy->error[2], (double(at_half) + eta_half * 1000 - double(end)) / duration, 1e-3);
  EXPECT_NEAR(*accuracy->error[3], (double(at_75) + eta_75 * 1000 - double(end)) / duration, 1e-3);
  EXPECT_NEAR(*accuracy->error[4], (double(at_90) + eta_90 * 1000 - double(end)) / duration, 1e-3);
  // The last estimate was finalizing only (a tenth of the file phase, ~250 ms): it
  // finished early, within 100 ms of the 300 ms that finalizing took.
  EXPECT_LT(std::abs(*accuracy->error[4]) * duration, 100);
}

TEST_F(EtaTest, CancelledJobsHaveNoAccuracyRecord) {
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/a")}), IsOk());
  job_.Advance(1000);
  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/a"), job_.Cancelled()}), IsOk());
  EXPECT_TRUE(h_.snap().eta.predicted_end[1].has_value());
  EXPECT_FALSE(engine::EtaAccuracyOf(h_.snap()).has_value());
}

// The interval: multiplicative around the estimate, narrowing (relative to the
// estimate) as finished files accumulate; nothing once the job is final.
TEST_F(EtaTest, IntervalBracketsTheEstimateAndNarrowsWithEvidence) {
  const engine::EtaIntervalModel model;  // the calibrated constants
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/a"), job_.FileStarted("s3://b/b")}), IsOk());
  job_.Advance(1000);
  ASSERT_THAT(h_.Fold(job_.FileCompleted("s3://b/a")), IsOk());
  const engine::Millis t1 = h_.snap().last_recorded_at;
  const auto one = engine::EtaRangeAt(h_.snap(), t1, model);
  ASSERT_TRUE(one.has_value());
  EXPECT_DOUBLE_EQ(one->seconds, *EtaSecondsRemaining(h_.snap(), t1));
  // One finished file: spread = base + evidence / sqrt(1).
  const double spread1 = model.base + model.evidence;
  EXPECT_NEAR(one->low_seconds, one->seconds * std::exp(-model.z_low * spread1), 1e-9);
  EXPECT_NEAR(one->high_seconds, one->seconds * std::exp(model.z_high * spread1), 1e-9);

  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/b"), job_.FileStarted("s3://b/c"),
                          job_.FileStarted("s3://b/d")}),
              IsOk());
  job_.Advance(100);
  ASSERT_THAT(h_.Fold(job_.FileCompleted("s3://b/c")), IsOk());
  const engine::Millis t3 = h_.snap().last_recorded_at;
  const auto three = engine::EtaRangeAt(h_.snap(), t3, model);
  ASSERT_TRUE(three.has_value());
  const double spread3 = model.base + model.evidence / std::sqrt(3.0);
  EXPECT_NEAR(three->high_seconds / three->seconds, std::exp(model.z_high * spread3), 1e-9);
  EXPECT_LT(three->high_seconds / three->seconds, one->high_seconds / one->seconds);
  EXPECT_GT(three->low_seconds / three->seconds, one->low_seconds / one->seconds);

  // Through the status view: whole seconds, outward; the point inside.
  engine::ViewOptions options;
  const auto view = engine::BuildStatusView(h_.snap(), t3, options);
  ASSERT_TRUE(view.progress.eta_low_seconds && view.progress.eta_high_seconds);
  EXPECT_EQ(*view.progress.eta_low_seconds, static_cast<int64_t>(std::floor(three->low_seconds)));
  EXPECT_EQ(*view.progress.eta_high_seconds, static_cast<int64_t>(std::ceil(three->high_seconds)));
  EXPECT_LE(*view.progress.eta_low_seconds, *view.estimated_time_remaining_seconds);
  EXPECT_GE(*view.progress.eta_high_seconds, *view.estimated_time_remaining_seconds);

  // Final: every ETA field is null (API.md), however recent the evidence.
  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/d"), job_.Completed()}), IsOk());
  EXPECT_FALSE(engine::EtaRangeAt(h_.snap(), t3 + 10, model).has_value());
  const auto done = engine::BuildStatusView(h_.snap(), t3 + 10, options);
  EXPECT_FALSE(done.estimated_time_remaining_seconds.has_value());
  EXPECT_FALSE(done.progress.eta_low_seconds.has_value());
  EXPECT_FALSE(done.progress.eta_high_seconds.has_value());
  EXPECT_FALSE(done.progress.estimated_completion_at.has_value());
}

// The display filter, folded at event instants: the model's small moves are smoothed,
// a change of scope or lanes, a rise by more than half of what is left or a fall by more
// than 30% of it passes at once, and between events the model's drift goes through (a
// stall moves the estimate, it does not freeze it).
class EtaFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::string> uris;
    for (int i = 0; i < 40; ++i) uris.push_back("s3://b/" + std::to_string(i));
    ASSERT_THAT(h_.FoldAll({job_.Created(), job_.Started(), job_.Discovered(uris), job_.Workers(1)}),
                IsOk());
  }
  // Runs file i for `ms` and finishes it.
  void RunFile(int i, engine::Millis ms) {
    ASSERT_THAT(h_.Fold(job_.FileStarted("s3://b/" + std::to_string(i))), IsOk());
    job_.Advance(ms);
    ASSERT_THAT(h_.Fold(job_.FileCompleted("s3://b/" + std::to_string(i))), IsOk());
  }
  double Shown(engine::Millis now) { return *EtaSecondsRemaining(h_.snap(), now); }
  double Model(engine::Millis now) { return *engine::EtaModelSecondsRemaining(h_.snap(), now); }

  JobScenario job_{"job-filter"};
  FoldHarness h_{"job-filter"};
};

TEST_F(EtaFilterTest, SmoothsFallsPassesRisesScopeChangesAndDrift) {
  for (int i = 0; i < 10; ++i) RunFile(i, 1000);
  engine::Millis now = h_.snap().last_recorded_at;
  // Steady files: the filter has caught up with the model.
  EXPECT_NEAR(Shown(now), Model(now), 0.05 * Model(now));

  // One file a third slower: the model's completion instant rises a little (under half
  // of what is left); the shown one moves only part of the way.
  const double end_before = double(now) / 1000 + Shown(now);
  RunFile(10, 1300);
  now = h_.snap().last_recorded_at;
  const double model_end = double(now) / 1000 + Model(now);
  ASSERT_GT(model_end, end_before);
  ASSERT_LT(model_end - end_before, 0.1 * Model(now));
  EXPECT_LT(Shown(now), Model(now));
  EXPECT_GE(double(now) / 1000 + Shown(now), end_before - 1e-3);

  // One file twenty times as slow: the rise is more than half of what is left and is
  // shown at once (one step up rather than several).
  const double end_before_slow = double(now) / 1000 + Shown(now);
  RunFile(11, 20'000);
  now = h_.snap().last_recorded_at;
  ASSERT_GT(double(now) / 1000 + Model(now) - end_before_slow, 0.5 * Model(now));
  EXPECT_NEAR(Shown(now), Model(now), 1e-3);

  // Two fast files: the model falls, and the shown value follows only part of the way,
  // holding back at most 8% of the estimate.
  RunFile(12, 100);
  RunFile(13, 100);
  now = h_.snap().last_recorded_at;
  const double model = Model(now), shown = Shown(now);
  EXPECT_GT(shown, model);
  EXPECT_LE(shown, 1.08 * model + 1e-6);

  // Between events the model's drift goes through: no event for a while, and the
  // shown estimate moves with the model's (the bounded hold scales with it).
  const engine::Millis later = now + 30'000;
  EXPECT_GT(Shown(later), Model(later));
  EXPECT_NEAR(Shown(later) - shown, Model(later) - model, 0.08 * std::abs(Model(later) - model) + 1e-6);

  // A change of scope passes at once: 40 more files.
  std::vector<std::string> more;
  for (int i = 40; i < 80; ++i) more.push_back("s3://b/" + std::to_string(i));
  ASSERT_THAT(h_.Fold(job_.Discovered(more)), IsOk());
  now = h_.snap().last_recorded_at;
  EXPECT_NEAR(Shown(now), Model(now), 1e-3);
  EXPECT_EQ(h_.snap().eta.filter->scope, 80);
}

TEST_F(EtaFilterTest, LargeJumpsPassAtOnce) {
  // Five files finish extracting (100 ms each) and wait for chunking, of which nothing
  // is known yet; then the first chunking span takes 5 s: every file's chunking is
  // suddenly work, far more than the time that was left.
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(h_.Fold(job_.FileStarted("s3://b/" + std::to_string(i))), IsOk());
    job_.Advance(100);
    ASSERT_THAT(h_.Fold(job_.FileStageDone("s3://b/" + std::to_string(i), engine::Stage::kExtracting)),
                IsOk());
  }
  const double before = Model(h_.snap().last_recorded_at);
  ASSERT_THAT(h_.Fold(job_.FileProgress("s3://b/0", engine::Stage::kChunking)), IsOk());
  job_.Advance(5000);
  ASSERT_THAT(h_.Fold(job_.FileStageDone("s3://b/0", engine::Stage::kChunking)), IsOk());
  const engine::Millis now = h_.snap().last_recorded_at;
  ASSERT_GT(Model(now), 10 * before);
  EXPECT_NEAR(Shown(now), Model(now), 1e-3);
}

TEST(EtaFilterFallTest, AFallOfMoreThan30PercentOfWhatIsLeftPassesAtOnce) {
  // Four files on one lane; one has run. One of the three waiting is cancelled: the
  // scope (files_total) stays, a third of the work left is gone (half of what is left
  // after it, the filter's measure), and the estimate shows it at once.
  JobScenario job{"job-fall"};
  FoldHarness h{"job-fall"};
  const std::vector<std::string> uris{"s3://b/0", "s3://b/1", "s3://b/2", "s3://b/3"};
  ASSERT_THAT(h.FoldAll({job.Created(), job.Started(), job.Discovered(uris), job.Workers(1),
                         job.FileStarted("s3://b/0")}),
              IsOk());
  job.Advance(1000);
  ASSERT_THAT(h.Fold(job.FileCompleted("s3://b/0")), IsOk());
  const double before = *engine::EtaModelSecondsRemaining(h.snap(), h.snap().last_recorded_at);
  ASSERT_THAT(h.Fold(job.FileCancelled("s3://b/3")), IsOk());
  const engine::Millis now = h.snap().last_recorded_at;
  const double model = *engine::EtaModelSecondsRemaining(h.snap(), now);
  ASSERT_EQ(h.snap().eta.filter->scope, 4);
  // The fall, as a share of what is left after it: above the 30% that passes at once,
  // below the 75% that was needed before 2026-11-29.
  const double fall = (before - model) / model;
  ASSERT_GT(fall, 0.3);
  ASSERT_LT(fall, 0.75);
  EXPECT_NEAR(*engine::EtaSecondsRemaining(h.snap(), now), model, 1e-3);
}

TEST_F(EtaFilterTest, ANewNumberOfWorkersPassesAtOnce) {
  for (int i = 0; i < 10; ++i) RunFile(i, 1000);
  ASSERT_THAT(h_.Fold(job_.Workers(2)), IsOk());  // twice the lanes: about half the time
  engine::Millis now = h_.snap().last_recorded_at;
  EXPECT_NEAR(Shown(now), Model(now), 1e-3);
  EXPECT_EQ(h_.snap().eta.filter->workers, 2);
  RunFile(10, 1000);  // an ordinary event after it is smoothed again
  ASSERT_THAT(h_.Fold(job_.Workers(1)), IsOk());
  now = h_.snap().last_recorded_at;
  EXPECT_NEAR(Shown(now), Model(now), 1e-3);
}

TEST(EtaAccuracyTotals, SumsIntegersAndCumulativeBuckets) {
  engine::EtaAccuracyTotals totals;
  engine::EtaAccuracy a, b;
  a.error[0] = 0.01;
  a.error[4] = -0.3;
  b.error[0] = -0.07;
  totals.Add(a);
  totals.Add(b);
  EXPECT_EQ(totals.at[0].count, 2);
  EXPECT_EQ(totals.at[0].abs_error_micros, 80'000);
  // Bounds 0.02, 0.05, 0.1, 0.2, 0.5, 1: 0.01 is in all; 0.07 from 0.1 on.
  EXPECT_EQ(totals.at[0].le, (std::array<int64_t, 6>{1, 1, 2, 2, 2, 2}));
  EXPECT_EQ(totals.at[4].le, (std::array<int64_t, 6>{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(totals.at[1].count, 0);
  // Order does not matter: the sums are integers.
  engine::EtaAccuracyTotals reversed;
  reversed.Add(b);
  reversed.Add(a);
  EXPECT_EQ(reversed, totals);
}

}  // namespace
}  // namespace jobstate::testing
