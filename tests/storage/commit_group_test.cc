// CommitGroup alone: what a failed request leaves behind in its group, and what a
// committed one leaves in the caches shared across groups.
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

// Commits `events` as one request in a group of its own.
void Commit(const storage::Db& db, storage::JobCache& cache, storage::LogCounters& counters,
            std::vector<engine::Event> events) {
  storage::CommitGroup group(db, cache, storage::GroupOptions{}, counters, kT0 + 3'600'000, nullptr);
  engine::AppendRequest request{"acme", "key", std::move(events), {}};
  ASSERT_THAT(group.Add(request), IsOk());
  group.Seal();
  ASSERT_THAT(group.Write({}), IsOk());
  counters = group.counters();
  group.Publish();
}

TEST(CommitGroupTest, TheCachesKeepRunningJobsAndFilesInFlightOnly) {
  TempDir dir;
  auto db = storage::Db::Open({dir.path()});
  ASSERT_THAT(db, IsOk());
  storage::JobCache cache(16, 64);
  storage::LogCounters counters;

  JobScenario j("job-a", kT0, 1);
  Commit(**db, cache, counters,
         {j.Created(), j.Started(), j.Discovered({"s3://b/1", "s3://b/2"}), j.FileStarted("s3://b/1"),
          j.FileStarted("s3://b/2")});
  EXPECT_EQ(cache.names.size(), 1u);
  EXPECT_EQ(cache.snapshots.size(), 1u);
  EXPECT_EQ(cache.file_rows.size(), 2u);

  j.Advance(2000);
  Commit(**db, cache, counters, {j.FileCompleted("s3://b/1")});
  EXPECT_EQ(cache.snapshots.size(), 1u);
  EXPECT_EQ(cache.file_rows.size(), 1u);  // the settled file left

  const std::vector<engine::Event> last{j.FileCompleted("s3://b/2"), j.Completed()};
  Commit(**db, cache, counters, last);
  EXPECT_EQ(cache.names.size(), 0u);  // the final job left
  EXPECT_EQ(cache.snapshots.size(), 0u);
  EXPECT_EQ(cache.file_rows.size(), 0u);

  // What left the caches is read back from the store: a repeat of the last request is
  // recognised as one, and a new event after the end is refused.
  storage::CommitGroup group(**db, cache, storage::GroupOptions{}, counters, kT0 + 3'600'000, nullptr);
  engine::AppendRequest repeat{"acme", "key", last, {}};
  auto repeated = group.Add(repeat);
  ASSERT_THAT(repeated, IsOk());
  EXPECT_EQ(repeated->duplicates, 2);
  EXPECT_EQ(repeated->appended, 0);
  engine::AppendRequest late{"acme", "key", {j.Progress("after the end")}, {}};
  EXPECT_FALSE(group.Add(late).has_value());
}

}  // namespace
}  // namespace jobstate::testing
