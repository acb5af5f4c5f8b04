// Property: random valid histories (thousands of jobs, seeded) give byte-identical
// snapshots and file rows whether folded incrementally by the commit path (in random
// batches that mix jobs), from scratch from the stored events, or after a restart.
#include <iostream>
#include <map>
#include <random>

#include "tests/storage/refold.h"
#include "tests/storage/store_fixture.h"
#include "tests/support/random_job.h"

namespace jobstate::testing {
namespace {

class PropertyTest : public StoreTest {};

TEST_F(PropertyTest, IncrementalScratchAndRestartFoldsAreByteIdentical) {
  constexpr int kJobs = 2000;
  constexpr uint64_t kSeed = 20261129;
  std::mt19937_64 rng(kSeed);
  std::vector<RandomJob> jobs;
  for (int i = 0; i < kJobs; ++i) {
    jobs.emplace_back("job-" + std::to_string(i), kSeed + i, kT0 - 3'600'000);
  }
  clock_.Set(kT0 + 1000LL * 3'600'000);  // the jobs' instants are all in the past
  std::vector<size_t> live(kJobs);
  for (int i = 0; i < kJobs; ++i) live[i] = i;
  size_t events = 0;
  while (!live.empty()) {
    // A batch takes a few events from one to three live jobs.
    std::vector<engine::Event> batch;
    const int jobs_in_batch = std::uniform_int_distribution<>(1, 3)(rng);
    for (int j = 0; j < jobs_in_batch && !live.empty(); ++j) {
      const size_t k = std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng);
      const int n = std::uniform_int_distribution<>(1, 12)(rng);
      for (int e = 0; e < n; ++e) {
        auto next = jobs[live[k]].Next();
        if (!next) {
          live[k] = live.back();
          live.pop_back();
          break;
        }
        batch.push_back(std::move(*next));
      }
    }
    if (batch.empty()) continue;
    events += batch.size();
    auto r = Append(batch);
    ASSERT_THAT(r, IsOk()) << "batch of " << batch.size() << " events";
  }
  EXPECT_GT(events, 50'000u);  // the histories are not trivially short
  std::cout << "events: " << events << "\n";

  for (int i = 0; i < kJobs; ++i) {
    ASSERT_EQ(CompareWithRefold(*store_, "acme", jobs[i].job_id()), "");
  }
  std::map<std::string, std::string> before;
  for (int i = 0; i < kJobs; ++i) {
    before[jobs[i].job_id()] =
        storage::EncodeSnapshot(*store_->GetSnapshot("acme", jobs[i].job_id()));
  }
  Reopen();
  for (int i = 0; i < kJobs; ++i) {
    const std::string& id = jobs[i].job_id();
    ASSERT_EQ(storage::EncodeSnapshot(*store_->GetSnapshot("acme", id)), before[id]) << id;
    ASSERT_EQ(CompareWithRefold(*store_, "acme", id), "");
  }
}

}  // namespace
}  // namespace jobstate::testing
