// The commit path and the reads over a real RocksDB: acknowledgements, idempotency,
// expected_version, atomicity, file pages, history, the global log, restart.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "engine/job_store.h"
#include "engine/projector.h"
#include "storage/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/keys.h"
#include "storage/internal/listing.h"
#include "tests/storage/random_history.h"
#include "tests/storage/store_fixture.h"

namespace jobstate::testing {
namespace {

using engine::FileStatus;
using engine::JobStatus;

TEST_F(StoreTest, AppendAssignsVersionsPositionsAndRecordedAt) {
  JobScenario a("job-a"), b("job-b");
  auto r = Append({a.Created(), b.Created(), a.Started()});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->appended, 3);
  EXPECT_EQ(r->duplicates, 0);
  ASSERT_EQ(r->results.size(), 3u);
  EXPECT_EQ(r->results[0].version, 1u);
  EXPECT_EQ(r->results[1].version, 1u);
  EXPECT_EQ(r->results[2].version, 2u);
  EXPECT_EQ(r->results[0].position, 1u);
  EXPECT_EQ(r->results[2].position, 3u);
  EXPECT_EQ(r->results[2].recorded_at, clock_.NowMillis());

  auto snap = store_->GetSnapshot("acme", "job-a");
  ASSERT_THAT(snap, IsOk());
  EXPECT_EQ(snap->status, JobStatus::kRunning);
  EXPECT_EQ(snap->version, 2u);
  EXPECT_EQ(store_->last_position(), 3u);

  auto log = store_->ReadLog(1, 10);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), 2u);
  EXPECT_EQ((*log)[0].record.position, 2u);
  EXPECT_EQ((*log)[0].org, "acme");
  EXPECT_EQ((*log)[0].record.event.job_id, "job-b");
}

// Beside the store that holds the data dir (a running server), a read-only store reads
// what had been committed when it opened, including what is still only in the log
// files, and nothing later; it refuses appends, and leaves no files behind.
TEST_F(StoreTest, AReadOnlyStoreReadsBesideTheOneThatHoldsTheDataDir) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started()}), IsOk());

  // The secondary instances' own files go to the temporary directory: this test's own,
  // so that other tests' (and jobctl's) do not count.
  const std::string tmp = dir_.Sub("tmp");
  std::filesystem::create_directories(tmp);
  struct TmpDir {  // set for this test, put back however it ends
    std::optional<std::string> was;
    explicit TmpDir(const std::string& dir) {
      if (const char* v = std::getenv("TMPDIR")) was = v;
      setenv("TMPDIR", dir.c_str(), 1);
    }
    ~TmpDir() {
      if (was) {
        setenv("TMPDIR", was->c_str(), 1);
      } else {
        unsetenv("TMPDIR");
      }
    }
  } tmpdir(tmp);
  storage::StoreOptions read_only = options_;
  read_only.read_only = true;
  auto beside = storage::Store::Open(read_only, clock_);
  ASSERT_THAT(beside, IsOk());
  EXPECT_TRUE((*beside)->read_only());
  EXPECT_FALSE(store_->read_only());
  ASSERT_THAT(Append({a.Discovered({"s3://b/1"})}), IsOk());

  auto snap = (*beside)->GetSnapshot("acme", "job-a");
  ASSERT_THAT(snap, IsOk());
  EXPECT_EQ(snap->version, 2u);
  EXPECT_EQ((*beside)->last_position(), 2u);
  auto log = (*beside)->ReadLog(0, 10);
  ASSERT_THAT(log, IsOk());
  EXPECT_EQ(log->size(), 2u);
  EXPECT_THAT((*beside)->Append({"acme", "key-1", {a.FileStarted("s3://b/1")}, {}}),
              StatusIs(StatusCode::kFailedPrecondition, "read_only"));

  // A new one sees the third event; the holder still writes, and saw no refused append.
  auto later = storage::Store::Open(read_only, clock_);
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ((*later)->GetSnapshot("acme", "job-a")->version, 3u);
  ASSERT_THAT(Append({a.FileStarted("s3://b/1")}), IsOk());
  EXPECT_EQ(store_->GetSnapshot("acme", "job-a")->version, 4u);

  const auto in_tmp = [&] {
    return std::distance(std::filesystem::directory_iterator(tmp),
                         std::filesystem::directory_iterator());
  };
  EXPECT_EQ(in_tmp(), 2);
  beside->reset();
  later->reset();
  EXPECT_EQ(in_tmp(), 0);
}

// The holder flushes its memtables (32 MiB of them here) and deletes log files while
// read-only stores open beside it: every open succeeds, and reads whole commit groups,
// its log gap-free up to the last position it knows. (Before an open checked for log
// files deleted under it, six runs in eight read an event in the log that the events
// family did not have, or a log with gaps.)
TEST_F(StoreTest, ReadOnlyOpensBesideAHolderThatFlushesReadWholeGroups) {
  options_.memtable_bytes = 32 << 20;
  Reopen();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int j = 0; !stop; ++j) {
      JobScenario job("job-" + std::to_string(j));
      std::vector<std::string> uris;
      for (int f = 0; f < 200; ++f) uris.push_back("s3://b/" + std::to_string(f));
      ASSERT_THAT(Append({job.Created(), job.Started(), job.Discovered(uris)}), IsOk());
    }
  });
  struct Joined {  // the writer stops, also when an assertion below ends the test
    std::atomic<bool>& stop;
    std::thread& writer;
    ~Joined() {
      stop = true;
      writer.join();
    }
  } joined{stop, writer};
  storage::StoreOptions read_only = options_;
  read_only.read_only = true;
  uint64_t last = 0;
  for (int i = 0; i < 10; ++i) {
    auto beside = storage::Store::Open(read_only, clock_);
    ASSERT_THAT(beside, IsOk()) << "open " << i;
    const uint64_t position = (*beside)->last_position();
    EXPECT_GE(position, last);
    last = position;
    uint64_t seen = 0;
    for (uint64_t after = 0;;) {
      auto log = (*beside)->ReadLog(after, 1000);
      ASSERT_THAT(log, IsOk());
      if (log->empty()) break;
      for (const auto& entry : *log) EXPECT_EQ(entry.record.position, ++seen);
      after = log->back().record.position;
    }
    EXPECT_EQ(seen, position) << "open " << i;
    EXPECT_EQ(position % 3, 0u) << "a commit group cut in half, open " << i;
  }
  EXPECT_GT(last, 0u);
}

TEST_F(StoreTest, JobsAreScopedToTheirOrganisation) {
  JobScenario a("job-1");
  ASSERT_THAT(Append({a.Created()}, "acme"), IsOk());
  EXPECT_THAT(store_->GetSnapshot("globex", "job-1"),
              StatusIs(StatusCode::kNotFound, "job_not_found"));
  // The same job id in another organisation is another job.
  JobScenario other("job-1", kT0, 99);
  ASSERT_THAT(Append({other.Created(), other.Started()}, "globex"), IsOk());
  EXPECT_EQ(store_->GetSnapshot("acme", "job-1")->version, 1u);
  EXPECT_EQ(store_->GetSnapshot("globex", "job-1")->version, 2u);
}

TEST_F(StoreTest, RetriedBatchIsAcknowledgedWithItsOriginalCoordinates) {
  JobScenario a("job-a");
  std::vector<engine::Event> batch = {a.Created(), a.Started(), a.Discovered({"s3://b/x"})};
  auto first = Append(batch);
  ASSERT_THAT(first, IsOk());
  clock_.Advance(5000);
  auto again = Append(batch);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->appended, 0);
  EXPECT_EQ(again->duplicates, 3);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_TRUE(again->results[i].duplicate);
    EXPECT_EQ(again->results[i].version, first->results[i].version);
    EXPECT_EQ(again->results[i].position, first->results[i].position);
    EXPECT_EQ(again->results[i].recorded_at, first->results[i].recorded_at);
  }
  EXPECT_EQ(store_->last_position(), 3u);
  EXPECT_EQ(store_->GetSnapshot("acme", "job-a")->version, 3u);
}

TEST_F(StoreTest, EventIdIsCaseInsensitiveAndScopedToTheJob) {
  JobScenario a("job-a");
  engine::Event created = a.Created();
  ASSERT_THAT(Append({created}), IsOk());
  engine::Event upper = created;
  for (char& c : upper.event_id) c = static_cast<char>(std::toupper(c));
  auto dup = Append({upper});
  ASSERT_THAT(dup, IsOk());
  EXPECT_TRUE(dup->results[0].duplicate);
  // The same id in another job is another event.
  engine::Event in_b = created;
  in_b.job_id = "job-b";
  auto other = Append({in_b});
  ASSERT_THAT(other, IsOk());
  EXPECT_FALSE(other->results[0].duplicate);
}

TEST_F(StoreTest, SameEventIdWithOtherContentIsAConflict) {
  JobScenario a("job-a");
  engine::Event progress = a.Progress("one");
  ASSERT_THAT(Append({a.Created(), progress}), IsOk());
  engine::Event changed = progress;
  std::get<engine::JobProgress>(changed.data).message = "two";
  auto r = Append({changed});
  EXPECT_THAT(r, StatusIs(StatusCode::kAborted, "event_id_conflict"));
  EXPECT_EQ(r.error().details().event_index, 0);
  EXPECT_EQ(r.error().details().pointer, "/events/0/event_id");
  // The same event repeated inside one batch with other content, too.
  engine::Event p2 = a.Progress("x");
  engine::Event p2b = p2;
  std::get<engine::JobProgress>(p2b.data).message = "y";
  EXPECT_THAT(Append({p2, p2b}), StatusIs(StatusCode::kAborted, "event_id_conflict"));
  // ... and with the same content, acknowledged as a duplicate of the first.
  auto same = Append({p2, p2});
  ASSERT_THAT(same, IsOk());
  EXPECT_EQ(same->appended, 1);
  EXPECT_TRUE(same->results[1].duplicate);
  EXPECT_EQ(same->results[1].version, same->results[0].version);
}

TEST_F(StoreTest, ExpectedVersionIsEnforced) {
  JobScenario a("job-a");
  engine::Event created = a.Created();
  created.expected_version = 0;
  ASSERT_THAT(Append({created}), IsOk());
  engine::Event started = a.Started();
  started.expected_version = 0;
  auto r = Append({started});
  EXPECT_THAT(r, StatusIs(StatusCode::kAborted, "version_conflict"));
  EXPECT_EQ(r.error().details().current_version, 1u);
  started.expected_version = 1;
  ASSERT_THAT(Append({started}), IsOk());
  // A retry of an accepted event is a duplicate, not a conflict, though the stream
  // has moved on.
  auto retry = Append({started});
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(retry->results[0].duplicate);
  // expected_version 0 on an existing job fails; on a missing job it creates.
  engine::Event again = JobScenario("job-a", kT0, 5).Created();
  again.expected_version = 0;
  EXPECT_THAT(Append({again}), StatusIs(StatusCode::kAborted, "version_conflict"));
}

TEST_F(StoreTest, ABatchWithOneBadEventLeavesNoTrace) {
  JobScenario a("job-a"), b("job-b");
  ASSERT_THAT(Append({a.Created(), a.Started(), a.Discovered({"s3://b/1"})}), IsOk());
  const auto before = store_->GetSnapshot("acme", "job-a");
  std::vector<engine::Event> batch = {
      b.Created(), a.Discovered({"s3://b/2"}), a.FileStarted("s3://b/1"),
      a.FileStarted("s3://b/1")};  // the last one is an invalid transition
  auto r = Append(batch);
  EXPECT_THAT(r, StatusIs(StatusCode::kFailedPrecondition, "invalid_transition"));
  EXPECT_EQ(r.error().details().event_index, 3);

  EXPECT_EQ(*store_->GetSnapshot("acme", "job-a"), *before);
  EXPECT_THAT(store_->GetSnapshot("acme", "job-b"),
              StatusIs(StatusCode::kNotFound, "job_not_found"));
  EXPECT_EQ(store_->last_position(), 3u);
  EXPECT_EQ(store_->ReadLog(0, 100)->size(), 3u);
  auto page = store_->ListFiles("acme", "job-a", {});
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->rows.size(), 1u);
  EXPECT_EQ(page->rows[0].status, FileStatus::kQueued);

  // Without the bad event the same batch goes through, at the positions the failed
  // attempt did not use: nothing of it was remembered, not even its event ids.
  batch.pop_back();
  auto ok = Append(batch);
  ASSERT_THAT(ok, IsOk());
  EXPECT_EQ(ok->appended, 3);
  EXPECT_EQ(ok->results[0].position, 4u);
}

TEST_F(StoreTest, ConcurrentBatchesFailAlone) {
  // Many writers at once end up in shared commit groups; the bad batches must not
  // take the good ones down with them.
  constexpr int kWriters = 16;
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      JobScenario job("job-" + std::to_string(w));
      std::vector<engine::Event> batch = {job.Created(), job.Started()};
      if (w % 2) batch.push_back(job.Started());  // invalid: already running
      auto r = Append(batch);
      (r.has_value() ? ok : bad) += 1;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kWriters / 2);
  EXPECT_EQ(bad.load(), kWriters / 2);
  EXPECT_EQ(store_->last_position(), static_cast<uint64_t>(kWriters));
  auto log = store_->ReadLog(0, 1000);
  ASSERT_THAT(log, IsOk());
  for (size_t i = 0; i < log->size(); ++i) EXPECT_EQ((*log)[i].record.position, i + 1);
}

TEST_F(StoreTest, CancelWithoutCancelledByRecordsTheAppendingKey) {
  JobScenario a("job-a");
  engine::Event cancel = a.Make(engine::JobCancelled{std::nullopt, "no longer needed"});
  ASSERT_THAT(Append({a.Created(), cancel}), IsOk());
  auto snap = store_->GetSnapshot("acme", "job-a");
  EXPECT_EQ(snap->cancelled_by, "key-1");
  auto events = store_->ReadJobEvents("acme", "job-a", 2, 1);
  ASSERT_THAT(events, IsOk());
  EXPECT_EQ(std::get<engine::JobCancelled>((*events)[0].event.data).cancelled_by, "key-1");
  // A retry of the cancel as sent is still recognised as the same event.
  auto retry = Append({cancel});
  ASSERT_THAT(retry, IsOk());
  EXPECT_TRUE(retry->results[0].duplicate);
}

TEST_F(StoreTest, OccurredAtTooFarAheadIsRejected) {
  JobScenario a("job-a", clock_.NowMillis() + 301'000);
  auto r = Append({a.Created()});
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, "occurred_at_in_future"));
  EXPECT_EQ(r.error().details().pointer, "/events/0/occurred_at");
  JobScenario b("job-b", clock_.NowMillis() + 299'000);
  EXPECT_THAT(Append({b.Created()}), IsOk());
}

TEST_F(StoreTest, InvalidEventNamesItsPointerInTheBatch) {
  JobScenario a("job-a");
  engine::Event bad = a.Discovered({"s3://b/1", "s3://b/2"});
  std::get<engine::FilesDiscovered>(bad.data).files[1].size_bytes = -5;
  auto r = Append({a.Created(), a.Started(), a.Progress("x"), bad});
  EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, "invalid_event"));
  EXPECT_EQ(r.error().details().pointer, "/events/3/data/files/1/size_bytes");
  EXPECT_EQ(r.error().details().event_index, 3);
}

TEST_F(StoreTest, FilePagesFollowDiscoveryOrderAndFilters) {
  JobScenario a("job-a");
  std::vector<engine::Event> batch = {a.Created(), a.Started()};
  std::vector<std::string> uris;
  for (int i = 0; i < 2500; ++i) uris.push_back("s3://b/" + std::to_string(i));
  for (int i = 0; i < 2500; i += 1000) {
    batch.push_back(a.Discovered(std::vector<std::string>(
        uris.begin() + i, uris.begin() + std::min(i + 1000, 2500))));
  }
  for (int i = 0; i < 2500; i += 7) batch.push_back(a.FileStarted(uris[i]));
  for (int i = 0; i < 2500; i += 14) batch.push_back(a.FileCompleted(uris[i]));
  ASSERT_THAT(Append(batch), IsOk());

  // Unfiltered paging walks every file exactly once, in discovery order.
  engine::FileQuery q;
  q.limit = 300;
  size_t seen = 0;
  for (;;) {
    auto page = store_->ListFiles("acme", "job-a", q);
    ASSERT_THAT(page, IsOk());
    EXPECT_EQ(page->total_matching, 2500);
    for (const auto& row : page->rows) EXPECT_EQ(row.uri, uris[seen++]);
    if (!page->has_more) break;
    q.after_ordinal = page->rows.back().ordinal;
  }
  EXPECT_EQ(seen, 2500u);

  // processing: every 7th but not every 14th; completed: every 14th.
  engine::FileQuery f;
  f.limit = 500;
  f.statuses = {FileStatus::kProcessing};
  auto processing = store_->ListFiles("acme", "job-a", f);
  ASSERT_THAT(processing, IsOk());
  EXPECT_EQ(processing->total_matching, 179);
  EXPECT_EQ(processing->rows.size(), 179u);
  EXPECT_FALSE(processing->has_more);
  for (const auto& row : processing->rows) EXPECT_EQ(row.ordinal % 14, 7u);

  f.statuses = {FileStatus::kCompleted, FileStatus::kProcessing};
  f.limit = 10;
  f.after_ordinal = 100;
  auto both = store_->ListFiles("acme", "job-a", f);
  ASSERT_THAT(both, IsOk());
  EXPECT_EQ(both->total_matching, 358);
  ASSERT_EQ(both->rows.size(), 10u);
  EXPECT_TRUE(both->has_more);
  EXPECT_EQ(both->rows[0].ordinal, 105u);
  EXPECT_EQ(both->rows[1].ordinal, 112u);
  EXPECT_EQ(both->rows[1].status, FileStatus::kCompleted);
}

// A caller that holds a page as of a version is spared the rows while the job is
// still at it, and gets them again once it moved on.
TEST_F(StoreTest, APageHeldAsOfTheJobsVersionIsNotReadAgain) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started(), a.Discovered({"s3://b/0", "s3://b/1"})}), IsOk());
  engine::FileQuery q;
  q.statuses = {FileStatus::kQueued};
  auto full = store_->ListFiles("acme", "job-a", q);
  ASSERT_THAT(full, IsOk());
  ASSERT_EQ(full->rows.size(), 2u);
  EXPECT_FALSE(full->rows_skipped);

  q.unless_version = full->job.version;
  auto same = store_->ListFiles("acme", "job-a", q);
  ASSERT_THAT(same, IsOk());
  EXPECT_TRUE(same->rows_skipped);
  EXPECT_TRUE(same->rows.empty());
  EXPECT_EQ(same->job.version, full->job.version);
  EXPECT_EQ(same->total_matching, 2);  // the counts still come with the job

  ASSERT_THAT(Append({a.FileStarted("s3://b/0")}), IsOk());
  auto moved = store_->ListFiles("acme", "job-a", q);
  ASSERT_THAT(moved, IsOk());
  EXPECT_FALSE(moved->rows_skipped);
  ASSERT_EQ(moved->rows.size(), 1u);
  EXPECT_EQ(moved->rows[0].uri, "s3://b/1");
  EXPECT_EQ(moved->total_matching, 1);
}

TEST_F(StoreTest, JobEventsPageFromAVersion) {
  JobScenario a("job-a");
  std::vector<engine::Event> batch = {a.Created()};
  for (int i = 0; i < 20; ++i) batch.push_back(a.Progress("p" + std::to_string(i)));
  ASSERT_THAT(Append(batch), IsOk());
  auto events = store_->ReadJobEvents("acme", "job-a", 5, 3);
  ASSERT_THAT(events, IsOk());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].version, 5u);
  EXPECT_EQ((*events)[0].event, batch[4]);
  EXPECT_EQ(store_->ReadJobEvents("acme", "job-a", 21, 10)->size(), 1u);
  EXPECT_EQ(store_->ReadJobEvents("acme", "job-a", 22, 10)->size(), 0u);
}

TEST_F(StoreTest, QueueFullIsResourceExhausted) {
  options_.sequencer.queue_capacity_events = 10;
  Reopen();
  std::atomic<int> done{0}, exhausted{0};
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    JobScenario job("q-" + std::to_string(i));
    std::vector<engine::Event> batch(10, job.Created());
    for (int k = 1; k < 10; ++k) batch[k] = job.Progress("p");
    store_->Submit(engine::AppendRequest{"acme", "k", std::move(batch), {}},
                   [&](Result<engine::AppendResult> r) {
                     if (!r && r.error().code() == StatusCode::kResourceExhausted) ++exhausted;
                     ++done;
                   });
  }
  while (done.load() < kRequests) std::this_thread::yield();
  EXPECT_GT(exhausted.load(), 0);
}

TEST_F(StoreTest, RestartKeepsStateAndContinuesTheLog) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started(), a.Discovered({"s3://b/1", "s3://b/2"}),
                      a.FileStarted("s3://b/1")}),
              IsOk());
  const auto before = *store_->GetSnapshot("acme", "job-a");
  Reopen();
  EXPECT_EQ(storage::EncodeSnapshot(*store_->GetSnapshot("acme", "job-a")),
            storage::EncodeSnapshot(before));
  EXPECT_EQ(store_->last_position(), 4u);
  JobScenario b("job-b");
  auto r = Append({b.Created(), a.FileCompleted("s3://b/1")});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->results[0].position, 5u);
  EXPECT_EQ(r->results[1].version, 5u);
  EXPECT_GE(r->results[0].recorded_at, before.last_recorded_at);
}

TEST_F(StoreTest, CancelSweepsQueuedFilesAcrossStoredAndPendingRows) {
  // Files discovered in earlier commits and in the cancel's own batch, some moved in
  // that batch before the cancel: every queued one ends cancelled, the rest keep
  // their status, and the by-status index agrees with the rows.
  JobScenario a("job-a");
  std::vector<std::string> uris;
  for (int i = 0; i < 3000; ++i) uris.push_back("s3://b/" + std::to_string(i));
  ASSERT_THAT(Append({a.Created(), a.Started(),
                      a.Discovered(std::vector<std::string>(uris.begin(), uris.begin() + 1000)),
                      a.Discovered(std::vector<std::string>(uris.begin() + 1000,
                                                            uris.begin() + 2000))}),
              IsOk());
  std::vector<engine::Event> batch = {
      a.Discovered(std::vector<std::string>(uris.begin() + 2000, uris.end())),
      a.FileStarted(uris[5]), a.FileCompleted(uris[6]), a.FileStarted(uris[2500]),
      a.Cancelled()};
  ASSERT_THAT(Append(batch), IsOk());
  auto snap = store_->GetSnapshot("acme", "job-a");
  ASSERT_THAT(snap, IsOk());
  EXPECT_EQ(snap->count(FileStatus::kCancelled), 2997);
  EXPECT_EQ(snap->count(FileStatus::kProcessing), 2);
  EXPECT_EQ(snap->count(FileStatus::kQueued), 0);
  engine::FileQuery q;
  q.limit = 500;
  q.statuses = {FileStatus::kQueued};
  EXPECT_EQ(store_->ListFiles("acme", "job-a", q)->rows.size(), 0u);
  q.statuses = {FileStatus::kProcessing, FileStatus::kCompleted};
  auto moved = store_->ListFiles("acme", "job-a", q);
  ASSERT_EQ(moved->rows.size(), 3u);
  EXPECT_EQ(moved->rows[2].uri, uris[2500]);
  // A processing file may still settle.
  JobScenario late("job-a", kT0 + 50'000, 3);
  EXPECT_THAT(Append({late.FileCompleted(uris[5])}), IsOk());
}

TEST_F(StoreTest, CheckpointsFallOnGroupEndsOncePerIntervalAndHoldTheSnapshot) {
  JobScenario a("job-a");
  std::vector<engine::Event> all = {a.Created()};
  for (int i = 1; i < 2100; ++i) all.push_back(a.Progress("p" + std::to_string(i)));
  // Seven batches of 300, each its own group: versions 300, 600, ..., 2100.
  for (size_t from = 0; from < all.size(); from += 300) {
    std::vector<engine::Event> batch(all.begin() + from, all.begin() + from + 300);
    ASSERT_THAT(Append(batch), IsOk());
  }
  store_.reset();
  auto db = storage::Db::Open({options_.path});
  ASSERT_THAT(db, IsOk());
  // The groups that crossed 1,000 and 2,000 end at 1,200 and 2,100.
  for (uint64_t version : {1200u, 2100u}) {
    auto value = (*db)->Get(storage::Cf::kCheckpoints, storage::keys::JobVersion(1, version));
    ASSERT_THAT(value, IsOk());
    ASSERT_TRUE(value->has_value()) << "no checkpoint at " << version;
    auto checkpoint = storage::DecodeSnapshot(**value, "checkpoint");
    ASSERT_THAT(checkpoint, IsOk());
    engine::JobSnapshot folded;
    folded.org = "acme";
    folded.job_id = "job-a";
    engine::MemoryFileTable files;
    for (uint64_t v = 1; v <= version; ++v) {
      ASSERT_THAT(engine::Apply(folded, files, {all[v - 1], v, v, clock_.NowMillis()}), IsOk());
    }
    EXPECT_EQ(storage::EncodeSnapshot(*checkpoint), storage::EncodeSnapshot(folded));
  }
  for (uint64_t version : {900u, 1000u, 1500u, 2000u}) {
    EXPECT_FALSE((*(*db)->Get(storage::Cf::kCheckpoints, storage::keys::JobVersion(1, version)))
                     .has_value())
        << "unexpected checkpoint at " << version;
  }
}

TEST_F(StoreTest, BufferedDurabilityCommitsAndKeepsEverythingAcrossACleanClose) {
  options_.sequencer.durability = storage::Durability::kBuffered;
  Reopen();
  JobScenario a("job-a");
  std::vector<engine::Event> batch = {a.Created(), a.Started()};
  for (int i = 0; i < 500; ++i) batch.push_back(a.Progress("p" + std::to_string(i)));
  ASSERT_THAT(Append(batch), IsOk());
  options_.sequencer.durability = storage::Durability::kSync;
  Reopen();  // the close syncs the WAL
  EXPECT_EQ(store_->GetSnapshot("acme", "job-a")->version, 502u);
  EXPECT_EQ(store_->last_position(), 502u);
}

// A clean close writes the memtables out: the next open (a restart, a `jobctl`
// command) has no write-ahead log to replay, and everything is still there.
TEST_F(StoreTest, ACleanCloseLeavesNoWriteAheadLogToReplay) {
  JobScenario a("job-a");
  std::vector<engine::Event> batch = {a.Created(), a.Started()};
  for (int i = 0; i < 200; ++i) batch.push_back(a.Progress("p" + std::to_string(i)));
  ASSERT_THAT(Append(batch), IsOk());
  store_.reset();
  uintmax_t wal_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(options_.path)) {
    if (entry.path().extension() == ".log") wal_bytes += entry.file_size();
  }
  EXPECT_EQ(wal_bytes, 0u);
  Reopen();
  EXPECT_EQ(store_->GetSnapshot("acme", "job-a")->version, 202u);
}

TEST_F(StoreTest, SecondOpenOfTheSameDataDirIsRefused) {
  auto second = storage::Store::Open(options_, clock_);
  EXPECT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), StatusCode::kUnavailable) << second.error().ToString();
}

// The ETA's prior: a completed job teaches the jobs of its organisation, collection and
// job type; a time-travel read sees the prior as it stood at its instant; it survives a
// restart.
TEST_F(StoreTest, EtaPriorIsLearnedPerKindAndReadAsItStoodAtTheInstant) {
  JobScenario teacher("teacher", kT0, 1);
  std::vector<engine::Event> events{teacher.Created(), teacher.Started(),
                                    teacher.StageStarted(engine::Stage::kScanning),
                                    teacher.Discovered({"s3://b/1", "s3://b/2"}),
                                    teacher.StageCompleted(engine::Stage::kScanning),
                                    teacher.FileStarted("s3://b/1"), teacher.FileStarted("s3://b/2")};
  teacher.Advance(2000);
  for (auto e : {teacher.FileCompleted("s3://b/1"), teacher.FileCompleted("s3://b/2"),
                 teacher.Completed()}) {
    events.push_back(e);
  }
  ASSERT_THAT(Append(events), IsOk());
  const engine::Millis taught_at = clock_.NowMillis();

  clock_.Advance(10'000);
  auto learner_events = [](JobScenario& j) {
    return std::vector<engine::Event>{j.Created(), j.Started(),
                                      j.StageStarted(engine::Stage::kScanning),
                                      j.Discovered({"s3://b/1", "s3://b/2", "s3://b/3"}),
                                      j.StageCompleted(engine::Stage::kScanning)};
  };
  JobScenario learner("learner", kT0 + 20'000, 2);
  ASSERT_THAT(Append(learner_events(learner)), IsOk());
  JobScenario stranger("stranger", kT0 + 20'000, 3);  // the same kind, another organisation
  ASSERT_THAT(Append(learner_events(stranger), "globex"), IsOk());

  for (int pass = 0; pass < 2; ++pass) {
    SCOPED_TRACE(pass ? "after a restart" : "live");
    auto snap = store_->GetSnapshot("acme", "learner");
    ASSERT_THAT(snap, IsOk());
    auto now = store_->GetEtaHistory(*snap, std::nullopt);
    ASSERT_THAT(now, IsOk());
    ASSERT_TRUE(now->has_value());
    EXPECT_EQ((*now)->jobs, 1);
    EXPECT_EQ((*now)->types.begin()->second[0].spans.n, 2);
    auto then = store_->GetEtaHistory(*snap, taught_at);
    ASSERT_THAT(then, IsOk());
    EXPECT_EQ(*then, *now);
    auto before = store_->GetEtaHistory(*snap, taught_at - 1);
    ASSERT_THAT(before, IsOk());
    EXPECT_FALSE(before->has_value());

    // Through the status: the learner has no finished file, yet an estimate.
    auto live = engine::ReadStatusView(*store_, *snap, clock_.NowMillis(), false, {});
    ASSERT_THAT(live, IsOk());
    EXPECT_TRUE(live->estimated_time_remaining_seconds.has_value());
    // Nothing of another organisation's jobs leaks into it.
    auto other = store_->GetSnapshot("globex", "stranger");
    ASSERT_THAT(other, IsOk());
    auto none = store_->GetEtaHistory(*other, std::nullopt);
    ASSERT_THAT(none, IsOk());
    EXPECT_FALSE(none->has_value());
    auto blind = engine::ReadStatusView(*store_, *other, clock_.NowMillis(), false, {});
    ASSERT_THAT(blind, IsOk());
    EXPECT_FALSE(blind->estimated_time_remaining_seconds.has_value());
    Reopen();
  }
}

// The listing by status, as jobs move: newest first within and across the statuses
// asked for, page by page, and nothing of a batch that failed.
TEST_F(StoreTest, ListingByStatusFollowsEveryMoveAndPagesAcrossStatuses) {
  // job-0 is the oldest; 0 and 3 stay pending, 1 and 4 run, 2 completes, and 5 is
  // cancelled in the batch that creates it.
  std::vector<JobScenario> jobs;
  for (int i = 0; i < 6; ++i)
    jobs.emplace_back("job-" + std::to_string(i), kT0 + i * 1000, i);
  for (int i : {0, 3}) ASSERT_THAT(Append({jobs[i].Created()}), IsOk());
  for (int i : {1, 4})
    ASSERT_THAT(Append({jobs[i].Created(), jobs[i].Started()}), IsOk());
  ASSERT_THAT(Append({jobs[2].Created()}), IsOk());
  ASSERT_THAT(Append({jobs[2].Started()}), IsOk());
  ASSERT_THAT(Append({jobs[2].Completed()}), IsOk());
  ASSERT_THAT(Append({jobs[5].Created(), jobs[5].Cancelled()}), IsOk());
  JobScenario failed("job-6", kT0 + 6000, 6);
  ASSERT_THAT(Append({failed.Created(), failed.FileStarted("s3://b/none")}),
              StatusIs(StatusCode::kNotFound, "file_not_found"));

  const auto list = [&](std::vector<JobStatus> statuses, size_t limit) {
    std::vector<std::string> ids;
    engine::JobQuery q;
    q.statuses = statuses;
    q.limit = limit;
    for (int page = 0; page < 20; ++page) {
      auto got = store_->ListJobs("acme", q);
      EXPECT_THAT(got, IsOk());
      if (!got.has_value()) break;
      for (const auto& j : got->jobs) {
        EXPECT_TRUE(statuses.empty() || std::find(statuses.begin(), statuses.end(),
                                                  j.status) != statuses.end());
        ids.push_back(j.job_id);
      }
      if (!got->next) break;
      q.after = got->next;
    }
    return ids;
  };
  using V = std::vector<std::string>;
  for (int pass = 0; pass < 2; ++pass) {  // as committed, and from disk after a restart
    SCOPED_TRACE(pass ? "reopened" : "as committed");
    EXPECT_EQ(list({JobStatus::kRunning}, 50), (V{"job-4", "job-1"}));
    EXPECT_EQ(list({JobStatus::kPending, JobStatus::kRunning}, 1),
              (V{"job-4", "job-3", "job-1", "job-0"}));
    EXPECT_EQ(list({JobStatus::kRunning, JobStatus::kPending, JobStatus::kRunning}, 3),
              (V{"job-4", "job-3", "job-1", "job-0"}));
    EXPECT_EQ(list({JobStatus::kCompleted}, 50), (V{"job-2"}));
    EXPECT_EQ(list({JobStatus::kCancelled, JobStatus::kCompleted}, 50),
              (V{"job-5", "job-2"}));
    EXPECT_EQ(list({JobStatus::kFailed}, 50), V{});
    EXPECT_EQ(list({}, 2), (V{"job-5", "job-4", "job-3", "job-2", "job-1", "job-0"}));
    Reopen();
  }
  // job-1 completes: it leaves the running jobs for the completed ones, in its place.
  ASSERT_THAT(Append({jobs[1].Completed()}), IsOk());
  EXPECT_EQ(list({JobStatus::kRunning}, 50), (V{"job-4"}));
  EXPECT_EQ(list({JobStatus::kCompleted}, 50), (V{"job-2", "job-1"}));
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->differences.empty());
}

// Senders on many threads, so that groups hold many requests and are written while the
// next folds, some requests failing inside a group: the listing by status ends exactly
// as every job's status says (verify checks each job's entries).
TEST_F(StoreTest, ListingByStatusHoldsUnderConcurrentGroups) {
  constexpr int kThreads = 8, kJobsEach = 25;
  std::vector<std::thread> senders;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    senders.emplace_back([&, t] {
      for (int j = 0; j < kJobsEach; ++j) {
        JobScenario job("t" + std::to_string(t) + "-" + std::to_string(j), kT0 + j,
                        t * 100 + j);
        if (!Append({job.Created()}).has_value()) ++failures;
        if (j % 5 == 0) continue;  // stays pending
        if (!Append({job.Started()}).has_value()) ++failures;
        // Fails in its group (a file nobody discovered) and changes nothing.
        if (Append({job.Completed(), job.FileStarted("s3://b/none")}).has_value())
          ++failures;
        if (j % 5 == 1) continue;  // stays running
        const engine::Event end = j % 5 == 2   ? job.Completed()
                                  : j % 5 == 3 ? job.Failed()
                                               : job.Cancelled();
        if (!Append({end}).has_value()) ++failures;
      }
    });
  }
  for (auto& s : senders) s.join();
  ASSERT_EQ(failures, 0);
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->jobs, size_t(kThreads * kJobsEach));
  EXPECT_TRUE(report->differences.empty())
      << report->differences[0].job_id << ": " << report->differences[0].what;
  for (JobStatus s : {JobStatus::kPending, JobStatus::kRunning, JobStatus::kCompleted,
                      JobStatus::kFailed, JobStatus::kCancelled}) {
    engine::JobQuery q;
    q.statuses = {s};
    q.limit = 500;
    auto page = store_->ListJobs("acme", q);
    ASSERT_THAT(page, IsOk());
    EXPECT_EQ(page->jobs.size(), size_t(kThreads * kJobsEach / 5)) << engine::Name(s);
  }
}

// Every combination of the listing's filters, paged, against the whole listing
// filtered here: the indexes (by status, by collection, by job type and by both)
// answer exactly the jobs each query selects, newest first, before and after a
// restart. Random histories spread the jobs over three collections ("docs" and
// "docs2" share a prefix), three job types and every status.
TEST_F(StoreTest, EveryListingFilterAnswersTheJobsItSelects) {
  AppendRandomHistories(*store_, clock_, 90, 5);
  const auto all = [&] {
    engine::JobQuery q;
    q.limit = 500;
    auto page = store_->ListJobs("acme", q);
    EXPECT_THAT(page, IsOk());
    return page.has_value() ? page->jobs : std::vector<engine::JobSnapshot>{};
  }();
  ASSERT_EQ(all.size(), 90u);
  const engine::Millis middle = all[all.size() / 2].created_at;

  // Each query with the job ids it must answer, newest first.
  std::vector<std::pair<engine::JobQuery, std::vector<std::string>>> cases;
  for (const std::vector<JobStatus>& statuses :
       std::vector<std::vector<JobStatus>>{{},
                                           {JobStatus::kRunning},
                                           {JobStatus::kPending, JobStatus::kCompleted},
                                           {JobStatus::kCompletedWithFailures,
                                            JobStatus::kFailed, JobStatus::kCancelled}}) {
    for (const std::optional<std::string>& collection :
         std::vector<std::optional<std::string>>{std::nullopt, "docs", "docs2", "mail",
                                                 "doc"}) {
      for (const std::optional<engine::JobType> type :
           {std::optional<engine::JobType>(), std::optional(engine::JobType::kIndexS3),
            std::optional(engine::JobType::kIndexGcsFile),
            std::optional(engine::JobType::kIndexGcs)}) {
        for (int bound : {0, 1, 2}) {  // none, created after the middle, before it
          engine::JobQuery q;
          q.statuses = statuses;
          q.collection_name = collection;
          q.job_type = type;
          if (bound == 1) q.created_after = middle;
          if (bound == 2) q.created_before = middle;
          q.limit = 7;
          std::vector<std::string> want;
          for (const engine::JobSnapshot& j : all) {
            if ((statuses.empty() || std::find(statuses.begin(), statuses.end(),
                                               j.status) != statuses.end()) &&
                (!collection || j.collection_name == *collection) &&
                (!type || j.job_type == *type) && (bound != 1 || j.created_at > middle) &&
                (bound != 2 || j.created_at < middle)) {
              want.push_back(j.job_id);
            }
          }
          cases.emplace_back(std::move(q), std::move(want));
        }
      }
    }
  }
  const auto describe = [](const engine::JobQuery& q) {
    return "statuses " + std::to_string(q.statuses.size()) + ", collection " +
           q.collection_name.value_or("-") + ", type " +
           std::string(q.job_type ? engine::Name(*q.job_type) : "-") + ", after " +
           std::to_string(q.created_after.has_value()) + ", before " +
           std::to_string(q.created_before.has_value());
  };
  size_t nonempty = 0;
  for (const auto& [query, want] : cases) nonempty += !want.empty();
  // Of the 240 queries, 108 name a collection or a job type no job has; the histories
  // give most of the others something to find.
  EXPECT_GT(nonempty, 90u);

  for (int pass = 0; pass < 2; ++pass) {  // as committed, and from disk after a restart
    for (const auto& [query, want] : cases) {
      engine::JobQuery q = query;
      std::vector<std::string> got;
      for (int page = 0; page < 20; ++page) {
        auto answer = store_->ListJobs("acme", q);
        ASSERT_THAT(answer, IsOk());
        for (const auto& j : answer->jobs) got.push_back(j.job_id);
        if (!answer->next) break;
        q.after = answer->next;
      }
      EXPECT_EQ(got, want) << describe(query);
    }
    store_.reset();
    if (pass == 0) {
      // The scan alone, without the check ListJobs makes again on each snapshot: the
      // index it picks holds exactly the jobs selected, so it passes over nothing.
      auto db = storage::Db::Open({options_.path});
      ASSERT_THAT(db, IsOk());
      std::map<uint64_t, std::string> names;
      for (const engine::JobSnapshot& j : all) {
        auto jid =
            (*db)->Get(storage::Cf::kJobs, storage::keys::JobName("acme", j.job_id));
        ASSERT_TRUE(jid.has_value() && *jid);
        names[storage::keys::DecodeFixed64((*jid)->data())] = j.job_id;
      }
      storage::ReadSnapshot snap(**db);
      for (const auto& [query, want] : cases) {
        storage::ListingScan scan(**db, snap.Options(), "acme", query);
        if (query.created_before) {
          scan.Seek(*query.created_before - 1, 0);  // as ListJobs starts
        } else {
          scan.SeekToFirst();
        }
        std::vector<std::string> got;
        for (;;) {
          auto next = scan.Next();
          ASSERT_THAT(next, IsOk());
          if (!*next) break;
          if (query.created_after && (*next)->first <= *query.created_after) break;
          got.push_back(names.at((*next)->second));
        }
        EXPECT_EQ(got, want) << describe(query);
      }
    }
    Reopen();
  }
}

}  // namespace
}  // namespace jobstate::testing
