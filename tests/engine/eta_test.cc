// The ETA's first model on hand-built jobs: the fit, the lanes, in-flight work that
// overruns, and finalizing as work. No timing: every instant is given.
#include <gtest/gtest.h>

#include "engine/eta.h"
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
  double Eta(engine::Millis t) { return *EtaSecondsRemaining(h_.snap(), start_ + t); }

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

TEST_F(EtaTest, ProgressEventsDoNotRestartAFile) {
  ASSERT_THAT(h_.FoldAll({job_.FileStarted("s3://b/a"), job_.FileStarted("s3://b/b")}), IsOk());
  job_.Advance(1000);
  ASSERT_THAT(h_.FoldAll({job_.FileCompleted("s3://b/a"),
                          job_.FileProgress("s3://b/b", engine::Stage::kEmbedding)}),
              IsOk());
  ASSERT_EQ(h_.snap().eta.types.size(), 1u);  // one content type
  const auto& s = h_.snap().eta.types.begin()->second;
  EXPECT_EQ(s.running, 1);
  // The running file's start stays its file.started instant.
  EXPECT_EQ(s.running_start_sum, *h_.Row("s3://b/b").started_at - h_.snap().created_at);
}

}  // namespace
}  // namespace jobstate::testing
