// Property: random valid histories (thousands of jobs, seeded) give byte-identical
// snapshots and file rows whether folded incrementally by the commit path (in random
// concurrent batches that mix jobs), from scratch from the stored events, or after a restart.
#include <iostream>
#include <map>
#include <random>

#include "tests/storage/refold.h"
#include "tests/storage/store_fixture.h"
#include "tests/storage/random_history.h"

namespace jobstate::testing {
namespace {

class PropertyTest : public StoreTest {};

TEST_F(PropertyTest, IncrementalScratchAndRestartFoldsAreByteIdentical) {
  constexpr int kJobs = 2000;
  const std::vector<std::string> ids =
      AppendRandomHistories(*store_, clock_, kJobs, 20261129, 12, /*jobs_per_batch=*/3);
  const size_t events = store_->last_position();
  EXPECT_GT(events, 50'000u);  // the histories are not trivially short
  std::cout << "events: " << events << "\n";

  for (int i = 0; i < kJobs; ++i) {
    ASSERT_EQ(CompareWithRefold(*store_, "acme", ids[i]), "");
  }
  std::map<std::string, std::string> before;
  for (int i = 0; i < kJobs; ++i) {
    before[ids[i]] =
        storage::EncodeSnapshot(*store_->GetSnapshot("acme", ids[i]));
  }
  Reopen();
  for (int i = 0; i < kJobs; ++i) {
    const std::string& id = ids[i];
    ASSERT_EQ(storage::EncodeSnapshot(*store_->GetSnapshot("acme", id)), before[id]) << id;
    ASSERT_EQ(CompareWithRefold(*store_, "acme", id), "");
  }
}

}  // namespace
}  // namespace jobstate::testing
