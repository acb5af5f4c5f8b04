// Time travel and the organisation feed, against a reference fold: for random histories
// committed in random groups, the job read as of every version N equals, byte for byte,
// the snapshot and file rows a fresh fold of the first N events gives.
#include <future>
#include <map>
#include <random>

#include "tests/storage/refold.h"
#include "tests/storage/store_fixture.h"
#include "tests/storage/random_history.h"

namespace jobstate::testing {
namespace {

using engine::AsOf;
using engine::FileQuery;

class TimeTravelTest : public StoreTest {
 protected:
  void SetUp() override {
    // A short interval: many checkpoints, and groups that cross one mid-way.
    options_.sequencer.group.checkpoint_interval = 20;
    StoreTest::SetUp();
  }

  // Every version's snapshot and rows, from folding the stored stream in memory.
  std::vector<Folded> ReferenceStates(const std::string& job_id) {
    std::vector<Folded> states(1);
    states[0].snap.org = "acme";
    states[0].snap.job_id = job_id;
    engine::MemoryFileTable files;
    auto events = store_->ReadJobEvents("acme", job_id, 1, 1'000'000);
    EXPECT_THAT(events, IsOk());
    for (const auto& e : *events) {
      Folded next{states.back().snap, {}};
      EXPECT_THAT(engine::Apply(next.snap, files, e), IsOk());
      next.rows = files.rows();
      states.push_back(std::move(next));
      recorded_at_[job_id].push_back(e.recorded_at);
    }
    return states;
  }

  std::map<std::string, std::vector<engine::Millis>> recorded_at_;  // by version - 1
};

std::string Describe(const engine::FilePage& page, const Folded& want) {
  if (storage::EncodeSnapshot(page.job) != storage::EncodeSnapshot(want.snap)) {
    return "snapshot differs";
  }
  if (page.rows.size() != want.rows.size()) {
    return "rows: " + std::to_string(page.rows.size()) + " vs " +
           std::to_string(want.rows.size());
  }
  for (size_t i = 0; i < page.rows.size(); ++i) {
    if (storage::EncodeFileRow(page.rows[i]) != storage::EncodeFileRow(want.rows[i])) {
      return "row " + std::to_string(i) + " differs";
    }
  }
  return "";
}

TEST_F(TimeTravelTest, EveryVersionOfRandomHistoriesEqualsAFreshFold) {
  constexpr int kJobs = 24;
  const std::vector<std::string> ids = AppendRandomHistories(*store_, clock_, kJobs, 4242);

  FileQuery all;
  all.limit = 100'000;
  size_t checked = 0;
  for (const std::string& id : ids) {
    const std::vector<Folded> states = ReferenceStates(id);
    const std::vector<engine::Millis>& at = recorded_at_[id];
    for (uint64_t n = 1; n < states.size(); ++n) {
      auto read = store_->ReadAsOf("acme", id, AsOf{n, std::nullopt}, all);
      ASSERT_THAT(read, IsOk()) << id << " @" << n;
      ASSERT_EQ(Describe(read->page, states[n]), "") << id << " @" << n;
      EXPECT_EQ(read->at, at[n - 1]) << id << " @" << n;
      ++checked;
    }
    // A filtered, paged read of the middle version sees that version's statuses.
    const uint64_t mid = states.size() / 2;
    FileQuery done;
    done.limit = 2;
    done.statuses = {engine::FileStatus::kCompleted, engine::FileStatus::kFailed};
    std::vector<engine::FileRow> want;
    for (const auto& row : states[mid].rows) {
      if (row.status == engine::FileStatus::kCompleted ||
          row.status == engine::FileStatus::kFailed) {
        want.push_back(row);
      }
    }
    std::vector<engine::FileRow> got;
    for (;;) {
      auto page = store_->ReadAsOf("acme", id, AsOf{mid, std::nullopt}, done);
      ASSERT_THAT(page, IsOk());
      EXPECT_EQ(page->page.total_matching, static_cast<int64_t>(want.size()));
      got.insert(got.end(), page->page.rows.begin(), page->page.rows.end());
      if (!page->page.has_more) break;
      done.after_ordinal = got.back().ordinal;
    }
    ASSERT_EQ(got.size(), want.size()) << id;
    for (size_t r = 0; r < got.size(); ++r) EXPECT_EQ(got[r].ordinal, want[r].ordinal);

    // Instants: between two events' recorded_at, the earlier version answers.
    for (uint64_t n = 1; n < states.size(); n += 7) {
      const engine::Millis t = at[n - 1];
      auto read = store_->ReadAsOf("acme", id, AsOf{std::nullopt, t + 1}, all);
      ASSERT_THAT(read, IsOk());
      uint64_t expect = n;
      while (expect < at.size() && at[expect] <= t + 1) ++expect;
      EXPECT_EQ(read->page.job.version, expect) << id << " at " << t + 1;
      EXPECT_EQ(read->at, t + 1);
    }
  }
  EXPECT_GT(checked, 1000u);
}

TEST_F(TimeTravelTest, BeforeTheFirstEventIsNotFoundAndBeyondTheLastIsOutOfRange) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started()}), IsOk());
  FileQuery q;
  EXPECT_THAT(store_->ReadAsOf("acme", "job-a", AsOf{0, std::nullopt}, q),
              StatusIs(StatusCode::kNotFound, "job_not_found"));
  auto beyond = store_->ReadAsOf("acme", "job-a", AsOf{3, std::nullopt}, q);
  ASSERT_THAT(beyond, StatusIs(StatusCode::kInvalidArgument, "version_out_of_range"));
  EXPECT_EQ(beyond.error().details().current_version, 2u);
  EXPECT_THAT(store_->ReadAsOf("acme", "job-a", AsOf{std::nullopt, kT0}, q),
              StatusIs(StatusCode::kNotFound, "job_not_found"));
  EXPECT_THAT(store_->ReadAsOf("other", "job-a", AsOf{1, std::nullopt}, q),
              StatusIs(StatusCode::kNotFound, "job_not_found"));
  auto now = store_->ReadAsOf("acme", "job-a", AsOf{std::nullopt, kT0 + 60'000}, q);
  ASSERT_THAT(now, IsOk());
  EXPECT_EQ(now->page.job.version, 2u);
}

TEST_F(TimeTravelTest, TheFeedOfAnOrganisationSkipsOtherOrganisationsAndResumes) {
  JobScenario a("job-a"), b("job-b");
  ASSERT_THAT(Append({a.Created(), a.Started()}, "acme"), IsOk());
  ASSERT_THAT(Append({b.Created()}, "globex"), IsOk());
  ASSERT_THAT(Append({a.Progress("p1")}, "acme"), IsOk());
  auto feed = store_->ReadOrgLog("acme", 0, 10);
  ASSERT_THAT(feed, IsOk());
  ASSERT_EQ(feed->size(), 3u);
  EXPECT_EQ((*feed)[0].position, 1u);
  EXPECT_EQ((*feed)[2].position, 4u);
  EXPECT_EQ((*feed)[2].version, 3u);
  auto rest = store_->ReadOrgLog("acme", 2, 10);
  ASSERT_THAT(rest, IsOk());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].position, 4u);
  auto globex = store_->ReadOrgLog("globex", 0, 10);
  ASSERT_THAT(globex, IsOk());
  ASSERT_EQ(globex->size(), 1u);
  EXPECT_EQ((*globex)[0].event.job_id, "job-b");
  EXPECT_THAT(store_->ReadOrgLog("nobody", 0, 10), IsOk());
}

}  // namespace
}  // namespace jobstate::testing
