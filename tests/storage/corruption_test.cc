// A damaged record is reported as Corruption naming its key, never a crash: on reads,
// and on the commit path, where only the batch that touches it fails.
#include <rocksdb/db.h>

#include "storage/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/keys.h"
#include "tests/storage/store_fixture.h"

namespace jobstate::testing {
namespace {

using storage::Cf;

class CorruptionTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    JobScenario a("job-a");
    ASSERT_THAT(Append({a.Created(), a.Started(), a.Discovered({"s3://b/1", "s3://b/2"})}),
                IsOk());
    JobScenario b("job-b");
    ASSERT_THAT(Append({b.Created()}), IsOk());
  }

  // Closes the store, applies `damage` to the raw value under (cf, key), reopens.
  void Damage(Cf cf, const std::string& key,
              const std::function<void(std::string&)>& damage) {
    store_.reset();
    {
      auto db = storage::Db::Open({options_.path});
      ASSERT_THAT(db, IsOk());
      auto value = (*db)->Get(cf, key);
      ASSERT_THAT(value, IsOk());
      ASSERT_TRUE(value->has_value()) << "no such key";
      std::string v = **value;
      damage(v);
      ASSERT_TRUE((*db)->get()->Put(rocksdb::WriteOptions(), (*db)->cf(cf), key, v).ok());
    }
    Reopen();
  }

  static void FlipLastByte(std::string& v) { v.back() = static_cast<char>(v.back() ^ 0x20); }
};

TEST_F(CorruptionTest, FlippedByteInASnapshot) {
  Damage(Cf::kSnapshots, storage::keys::Job(1), FlipLastByte);
  auto snap = store_->GetSnapshot("acme", "job-a");
  EXPECT_EQ(snap.error().code(), StatusCode::kCorruption);
  EXPECT_NE(snap.error().message().find("snapshots/jid=1"), std::string::npos)
      << snap.error().message();
  // Other jobs are unaffected.
  EXPECT_THAT(store_->GetSnapshot("acme", "job-b"), IsOk());
}

TEST_F(CorruptionTest, TruncatedAndUnknownFormatRecords) {
  Damage(Cf::kSnapshots, storage::keys::Job(1), [](std::string& v) { v.resize(3); });
  EXPECT_EQ(store_->GetSnapshot("acme", "job-a").error().code(), StatusCode::kCorruption);
  Damage(Cf::kSnapshots, storage::keys::Job(2), [](std::string& v) { v[0] = 9; });
  auto b = store_->GetSnapshot("acme", "job-b");
  EXPECT_EQ(b.error().code(), StatusCode::kCorruption);
  EXPECT_NE(b.error().message().find("unknown record format 9"), std::string::npos);
}

TEST_F(CorruptionTest, GarbageWithAValidChecksumStillFailsToDecode) {
  // Valid envelope, nonsense payload: the decoder must reject it, not trust it.
  Damage(Cf::kEvents, storage::keys::JobVersion(1, 2),
         [](std::string& v) { v = storage::SealRecord(std::string(40, '\xff')); });
  auto events = store_->ReadJobEvents("acme", "job-a", 1, 10);
  EXPECT_EQ(events.error().code(), StatusCode::kCorruption);
  EXPECT_NE(events.error().message().find("events/jid=1,n=2"), std::string::npos)
      << events.error().message();
}

TEST_F(CorruptionTest, DamagedFileRowFailsItsPageAndItsJobsAppends) {
  Damage(Cf::kFiles, storage::keys::File(1, 1), FlipLastByte);
  auto page = store_->ListFiles("acme", "job-a", {});
  EXPECT_EQ(page.error().code(), StatusCode::kCorruption);
  EXPECT_NE(page.error().message().find("files/jid=1,n=1"), std::string::npos);

  JobScenario a("job-a", kT0 + 10'000, 7);
  auto r = Append({a.FileStarted("s3://b/2")});
  EXPECT_EQ(r.error().code(), StatusCode::kCorruption) << r.error().ToString();
  EXPECT_EQ(r.error().details().event_index, 0);
  // The first file is intact, and other jobs go on.
  EXPECT_THAT(Append({a.FileStarted("s3://b/1")}), IsOk());
  JobScenario b("job-b", kT0 + 10'000, 8);
  EXPECT_THAT(Append({b.Started()}), IsOk());
}

TEST_F(CorruptionTest, DamagedDedupeEntryIsReportedOnRetry) {
  store_.reset();
  Reopen();
  auto events = store_->ReadJobEvents("acme", "job-b", 1, 1);
  ASSERT_THAT(events, IsOk());
  const engine::Event created = (*events)[0].event;
  Damage(Cf::kDedupe, storage::keys::Dedupe(2, created.event_id),
         [](std::string& v) { v.pop_back(); });
  auto r = Append({created});
  EXPECT_EQ(r.error().code(), StatusCode::kCorruption);
  EXPECT_NE(r.error().message().find("dedupe/jid=2"), std::string::npos);
}

}  // namespace
}  // namespace jobstate::testing
