// CommitGroup alone: what a failed request leaves behind in its group.
#include "storage/internal/commit_group.h"

#include <gtest/gtest.h>

#include "storage/internal/eta_history.h"
#include "tests/support/job_scenario.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace jobstate::testing {
namespace {

// A job that completes after two files; its lesson enters the prior of its kind.
std::vector<engine::Event> CompletingJob(JobScenario& j) {
  std::vector<engine::Event> events{j.Created(), j.Started(), j.Discovered({"s3://b/1", "s3://b/2"}),
                                    j.FileStarted("s3://b/1"), j.FileStarted("s3://b/2")};
  j.Advance(2000);
  for (auto e : {j.FileCompleted("s3://b/1"), j.FileCompleted("s3://b/2"), j.Completed()}) {
    events.push_back(e);
  }
  return events;
}

TEST(CommitGroupTest, ARequestThatFailsAfterCompletingAJobTeachesThePriorNothing) {
  TempDir dir;
  auto db = storage::Db::Open({dir.path()});
  ASSERT_THAT(db, IsOk());
  storage::JobCache cache(16, 64);
  const storage::GroupOptions options;
  storage::CommitGroup group(**db, cache, options, storage::LogCounters{}, kT0 + 3'600'000, nullptr);

  // Job a completes, then an event after its completion fails the whole request.
  JobScenario a("job-a", kT0, 1);
  engine::AppendRequest failing{"acme", "key", CompletingJob(a), {}};
  failing.events.push_back(a.Progress("after the end"));
  ASSERT_FALSE(group.Add(failing).has_value());

  // Job b of the same kind completes in a request of the same group.
  JobScenario b("job-b", kT0, 2);
  engine::AppendRequest ok{"acme", "key", CompletingJob(b), {}};
  ASSERT_THAT(group.Add(ok), IsOk());
  group.Seal();
  ASSERT_THAT(group.Write({}), IsOk());

  engine::JobSnapshot kind;  // what JobScenario creates: acme's "docs", index_s3
  kind.org = "acme";
  kind.collection_name = "docs";
  kind.job_type = engine::JobType::kIndexS3;
  auto prior = storage::ReadEtaHistory(**db, {}, storage::EtaHistoryPrefixOf(kind), std::nullopt);
  ASSERT_THAT(prior, IsOk());
  ASSERT_TRUE(prior->has_value());
  EXPECT_EQ((*prior)->jobs, 1);  // job b's lesson only
}

}  // namespace
}  // namespace jobstate::testing
