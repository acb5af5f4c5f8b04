// The commit path when the disk refuses a write: a real RocksDB whose files (the
// write-ahead log, the tables, the manifest) live on a file system that fails on demand
// (a full disk, an I/O error), underneath a real Store.

#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/codec.h"
#include "tests/storage/store_fixture.h"

namespace jobstate::testing {
namespace {

// Which of RocksDB's files a fault hits.
enum class Files {
  kWal,     // the write-ahead log
  kTables,  // table files: a flush or a compaction fails, the log still takes writes
  kAll,     // the log, the tables and the manifest: a disk that is full for everyone
};

// What RocksDB's files do: work, fail every append (a full disk, an I/O error), or hold
// the next sync of the log until released (so a test can queue a request behind a write
// in flight) and then fail it as a full disk does.
class Faults {
 public:
  // RocksDB recovers from a full disk by itself once it has room again; from an I/O
  // error in its log only by being opened again.
  enum class Mode { kWork, kFull, kIoError, kHoldThenFail };
  enum class Kind { kWal, kTable, kManifest, kOther };

  void Set(Mode mode, Files files = Files::kWal) {
    std::scoped_lock lock(mu_);
    mode_ = mode;
    files_ = files;
    released_ = false;
    held_ = false;
  }
  // kHoldThenFail: waits until a sync is held.
  void AwaitHeld() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return held_; });
  }
  void Release() {
    std::scoped_lock lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // How many appends have failed since the test began.
  int failed_appends() const {
    std::scoped_lock lock(mu_);
    return failed_appends_;
  }

  rocksdb::IOStatus OnAppend(Kind kind) {
    std::scoped_lock lock(mu_);
    if (!Hits(kind)) return rocksdb::IOStatus::OK();
    if (mode_ == Mode::kFull) {
      ++failed_appends_;
      return rocksdb::IOStatus::NoSpace("injected: disk full");
    }
    if (mode_ == Mode::kIoError) {
      ++failed_appends_;
      return rocksdb::IOStatus::IOError("injected: I/O error");
    }
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus OnSync(Kind kind) {
    std::unique_lock lock(mu_);
    if (mode_ != Mode::kHoldThenFail || kind != Kind::kWal)
      return rocksdb::IOStatus::OK();
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
    return rocksdb::IOStatus::NoSpace("injected: disk full");
  }

 private:
  bool Hits(Kind kind) const {
    switch (files_) {
      case Files::kWal:
        return kind == Kind::kWal;
      case Files::kTables:
        return kind == Kind::kTable;
      case Files::kAll:
        return kind != Kind::kOther;
    }
    return false;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Mode mode_ = Mode::kWork;
  Files files_ = Files::kWal;
  bool held_ = false;
  bool released_ = false;
  int failed_appends_ = 0;
};

class FaultyFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultyFile(std::unique_ptr<rocksdb::FSWritableFile> file, Faults& faults,
             Faults::Kind kind)
      : FSWritableFileOwnerWrapper(std::move(file)), faults_(faults), kind_(kind) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* dbg) override {
    if (auto s = faults_.OnAppend(kind_); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Append(data, options, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& info,
                           rocksdb::IODebugContext* dbg) override {
    if (auto s = faults_.OnAppend(kind_); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Append(data, options, info, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                         rocksdb::IODebugContext* dbg) override {
    if (auto s = faults_.OnSync(kind_); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Sync(options, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* dbg) override {
    if (auto s = faults_.OnSync(kind_); !s.ok()) return s;
    return FSWritableFileOwnerWrapper::Fsync(options, dbg);
  }

 private:
  Faults& faults_;
  const Faults::Kind kind_;
};

class FaultyFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  explicit FaultyFileSystem(Faults& faults)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), faults_(faults) {}
  const char* Name() const override { return "FaultyFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name,
                                    const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = FileSystemWrapper::NewWritableFile(name, o, result, dbg);
    Wrap(s, name, result);
    return s;
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& name, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override {
    auto s = FileSystemWrapper::ReuseWritableFile(name, old, o, result, dbg);
    Wrap(s, name, result);
    return s;
  }

 private:
  static bool EndsWith(const std::string& name, std::string_view tail) {
    return name.size() >= tail.size() &&
           name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  }
  static Faults::Kind KindOf(const std::string& name) {
    if (EndsWith(name, ".log")) return Faults::Kind::kWal;
    if (EndsWith(name, ".sst")) return Faults::Kind::kTable;
    if (name.find("/MANIFEST-") != std::string::npos) return Faults::Kind::kManifest;
    return Faults::Kind::kOther;
  }
  void Wrap(const rocksdb::IOStatus& s, const std::string& name,
            std::unique_ptr<rocksdb::FSWritableFile>* result) {
    const Faults::Kind kind = KindOf(name);
    if (s.ok() && kind != Faults::Kind::kOther) {
      *result = std::make_unique<FaultyFile>(std::move(*result), faults_, kind);
    }
  }
  Faults& faults_;
};

// Waits up to 30 s for `done`.
template <typename Done>
bool Eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class WriteFailureTest : public StoreTest {
 protected:
  void SetUp() override {
    options_.env = rocksdb::NewCompositeEnv(std::make_shared<FaultyFileSystem>(faults_));
    StoreTest::SetUp();
  }
  void TearDown() override {
    faults_.Set(Faults::Mode::kWork);
    store_.reset();
  }

  // The append was refused as storage being unavailable (a 503).
  static void ExpectUnavailable(const Result<engine::AppendResult>& r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kUnavailable) << r.error().ToString();
  }

  // Appends `events` until the store takes writes again (RocksDB recovers from a full
  // disk on a thread of its own), for at most 30 s.
  Result<engine::AppendResult> AppendUntilWritable(
      const std::vector<engine::Event>& events) {
    Result<engine::AppendResult> r;
    Eventually([&] {
      r = Append(events);
      return r.has_value() || r.error().code() != StatusCode::kUnavailable;
    });
    return r;
  }

  // After a restart the log holds positions 1..last and nothing of the failed writes:
  // the job's events are numbered without gaps and the next append follows on.
  void ExpectStoredAfterReopen(uint64_t last) {
    const std::string snapshot =
        storage::EncodeSnapshot(*store_->GetSnapshot("acme", "job-a"));
    Reopen();
    EXPECT_EQ(store_->last_position(), last);
    EXPECT_EQ(storage::EncodeSnapshot(*store_->GetSnapshot("acme", "job-a")), snapshot);
    auto events = store_->ReadJobEvents("acme", "job-a", 1, 1000);
    ASSERT_THAT(events, IsOk());
    ASSERT_EQ(events->size(), last);  // every event of these tests is job-a's
    for (uint64_t v = 1; v <= last; ++v) {
      EXPECT_EQ((*events)[v - 1].version, v);
      EXPECT_EQ((*events)[v - 1].position, v);
    }
  }

  void ExpectNothingAcknowledgedLost(const class Senders& senders);
  std::function<Result<engine::AppendResult>(std::vector<engine::Event>)> SenderAppend() {
    return
        [this](std::vector<engine::Event> events) { return Append(std::move(events)); };
  }

  Faults faults_;
};

TEST_F(WriteFailureTest, AFullDiskAnswersUnavailableStoresNothingAndWritesOnceItHasRoom) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started()}), IsOk());
  const std::string before =
      storage::EncodeSnapshot(*store_->GetSnapshot("acme", "job-a"));
  const std::vector<engine::Event> batch = {a.Discovered({"s3://b/1"}),
                                            a.FileStarted("s3://b/1")};

  faults_.Set(Faults::Mode::kFull);
  auto refused = Append(batch);
  ExpectUnavailable(refused);
  EXPECT_FALSE(store_->CheckWritable().ok());
  EXPECT_EQ(storage::EncodeSnapshot(*store_->GetSnapshot("acme", "job-a")), before);
  EXPECT_EQ(store_->last_position(), 2u);

  // RocksDB recovers by itself once the disk has room; readiness says so before any
  // write succeeds, so a balancer that stopped sending sends again.
  faults_.Set(Faults::Mode::kWork);
  Eventually([&] { return store_->CheckWritable().ok(); });
  EXPECT_THAT(store_->CheckWritable(), IsOk());

  // The sender retries the same batch: it is checked against the stored state, not
  // against the batch that failed (whose file would make it a duplicate discovery).
  auto again = AppendUntilWritable(batch);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->results[0].position, 3u);
  EXPECT_EQ(again->results[1].version, 4u);
  EXPECT_TRUE(store_->CheckWritable().ok());
  ExpectStoredAfterReopen(4);
}

// RocksDB takes an I/O error in its log as fatal: it refuses writes until it is opened
// again (docs/decisions.md). Meanwhile the store says it is not writable (`/readyz`
// answers 503), and a restart carries on from the last acknowledged write.
TEST_F(WriteFailureTest,
       AnIoErrorStopsWritesUntilARestartThatKeepsEveryAcknowledgedEvent) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started()}), IsOk());
  faults_.Set(Faults::Mode::kIoError);
  const std::vector<engine::Event> batch = {a.Progress("scanning")};
  auto refused = Append(batch);
  ExpectUnavailable(refused);
  faults_.Set(Faults::Mode::kWork);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const Status writable = store_->CheckWritable();
  EXPECT_EQ(writable.code(), StatusCode::kUnavailable) << writable.ToString();
  EXPECT_FALSE(store_->GetStats().writable);  // the metric operators alert on

  ExpectStoredAfterReopen(2);
  EXPECT_TRUE(store_->GetStats().writable);
  auto again = Append(batch);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->results[0].position, 3u);
  ExpectStoredAfterReopen(3);
}

TEST_F(WriteFailureTest, ARejectionCheckedAgainstAGroupWhoseWriteFailsDoesNotStand) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started()}), IsOk());
  const engine::Event discovered = a.Discovered({"s3://b/1"});

  // The group holding the discovery is being written when a second discovery of the
  // same file arrives: checked against that group, it is a duplicate file.
  faults_.Set(Faults::Mode::kHoldThenFail);
  std::promise<Result<engine::AppendResult>> first, second;
  store_->Submit(engine::AppendRequest{"acme", "key-1", {discovered}, {}},
                 [&](Result<engine::AppendResult> r) { first.set_value(std::move(r)); });
  faults_.AwaitHeld();
  JobScenario other("job-a", a.now(), /*salt=*/7);  // other event ids, same job
  store_->Submit(
      engine::AppendRequest{"acme", "key-1", {other.Discovered({"s3://b/1"})}, {}},
      [&](Result<engine::AppendResult> r) { second.set_value(std::move(r)); });
  auto second_answer = second.get_future();
  // Give the fold thread time to check it (a wrong rejection would come now).
  second_answer.wait_for(std::chrono::milliseconds(300));
  // Working again before the held sync fails, so that RocksDB's recovery, which syncs
  // a new log, is not held too.
  faults_.Set(Faults::Mode::kWork);
  faults_.Release();

  auto first_result = first.get_future().get();
  ExpectUnavailable(first_result);
  // The discovery it was checked against was never stored: not a duplicate.
  auto second_result = second_answer.get();
  if (!second_result.has_value()) {
    EXPECT_EQ(second_result.error().code(), StatusCode::kUnavailable)
        << second_result.error().ToString();
  }

  auto again = AppendUntilWritable({discovered});
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->results[0].position, store_->last_position());
  // Whichever of the two discoveries was stored first, the job has the file once.
  const auto page = store_->ListFiles("acme", "job-a", {});
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(page->rows.size(), 1u);
  ExpectStoredAfterReopen(store_->last_position());
}

// The same within one group: the second discovery is checked against the first,
// folded into the same group, whose write then fails.
TEST_F(WriteFailureTest, ARejectionCheckedAgainstItsOwnGroupFailsWithThatGroup) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started()}), IsOk());
  JobScenario other("job-a", a.now(), /*salt=*/7);  // other event ids, same job
  faults_.Set(Faults::Mode::kFull);
  // Submitted back to back, the two are usually taken by the fold thread together.
  std::promise<Result<engine::AppendResult>> first, second;
  store_->Submit(engine::AppendRequest{"acme", "key-1", {a.Discovered({"s3://b/1"})}, {}},
                 [&](Result<engine::AppendResult> r) { first.set_value(std::move(r)); });
  store_->Submit(
      engine::AppendRequest{"acme", "key-1", {other.Discovered({"s3://b/1"})}, {}},
      [&](Result<engine::AppendResult> r) { second.set_value(std::move(r)); });
  auto first_result = first.get_future().get();
  ExpectUnavailable(first_result);
  auto second_result = second.get_future().get();
  ExpectUnavailable(second_result);  // nothing could be written
  faults_.Set(Faults::Mode::kWork);
  ExpectStoredAfterReopen(2);
}

// A store just opened holds nothing in its memtables, so when its first write fails,
// RocksDB's recovery has nothing to flush and keeps the log that failed. Writing to it
// again would abort the process (storage/internal/db.h); it is refused instead, until
// a restart.
TEST_F(WriteFailureTest, AFailedFirstWriteAfterOpeningIsRefusedAgainUntilARestart) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started()}), IsOk());
  Reopen();  // a clean close flushes everything
  faults_.Set(Faults::Mode::kFull);
  const std::vector<engine::Event> batch = {a.Progress("scanning")};
  auto refused = Append(batch);
  ExpectUnavailable(refused);

  faults_.Set(Faults::Mode::kWork);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // RocksDB recovers
  auto again = Append(batch);
  ExpectUnavailable(again);
  EXPECT_FALSE(store_->CheckWritable().ok());

  ExpectStoredAfterReopen(2);
  auto after_restart = Append(batch);
  ASSERT_THAT(after_restart, IsOk());
  EXPECT_EQ(after_restart->results[0].position, 3u);
}

// Senders appending to a job each, retrying a batch refused as unavailable (a 503) with
// the same events, as workers do, until stopped; what each had acknowledged.
class Senders {
 public:
  using AppendFn =
      std::function<Result<engine::AppendResult>(std::vector<engine::Event>)>;

  Senders(AppendFn append, int count) : append_(std::move(append)), acked_(count) {
    for (int c = 0; c < count; ++c) threads_.emplace_back([this, c] { Run(c); });
  }
  ~Senders() { Stop(); }

  void Stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  int refused() const { return refused_; }
  int acknowledged() const { return acknowledged_; }
  // True once every sender has had a batch acknowledged.
  bool all_started() const { return started_ == static_cast<int>(acked_.size()); }
  const std::vector<std::vector<engine::AppendedEvent>>& acked() const { return acked_; }

 private:
  void Run(int c) {
    JobScenario job("job-" + std::to_string(c));
    std::vector<engine::Event> next = {job.Created(), job.Started()};
    while (!stop_) {
      auto r = append_(next);
      if (!r.has_value()) {
        EXPECT_EQ(r.error().code(), StatusCode::kUnavailable) << r.error().ToString();
        ++refused_;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      if (acked_[c].empty()) ++started_;
      for (const auto& e : r->results) acked_[c].push_back(e);
      acknowledged_ += static_cast<int>(r->results.size());
      next = {job.Progress("step")};
    }
  }

  const AppendFn append_;
  std::atomic<bool> stop_{false};
  std::atomic<int> refused_{0}, acknowledged_{0}, started_{0};
  std::vector<std::vector<engine::AppendedEvent>> acked_;
  std::vector<std::thread> threads_;
};

// After a restart: the log is numbered without gaps, every job's events are numbered
// without gaps, and every acknowledged event is there with the coordinates it was
// acknowledged with.
void WriteFailureTest::ExpectNothingAcknowledgedLost(const Senders& senders) {
  Reopen();
  const uint64_t last = store_->last_position();
  auto log = store_->ReadLog(0, last + 1);
  ASSERT_THAT(log, IsOk());
  ASSERT_EQ(log->size(), last);
  for (uint64_t p = 1; p <= last; ++p) EXPECT_EQ((*log)[p - 1].record.position, p);
  for (size_t c = 0; c < senders.acked().size(); ++c) {
    SCOPED_TRACE("sender " + std::to_string(c));
    ASSERT_FALSE(senders.acked()[c].empty());
    auto events = store_->ReadJobEvents("acme", "job-" + std::to_string(c), 1, 100'000);
    ASSERT_THAT(events, IsOk());
    for (size_t v = 0; v < events->size(); ++v) EXPECT_EQ((*events)[v].version, v + 1);
    for (const auto& a : senders.acked()[c]) {
      ASSERT_LE(a.version, events->size());
      const auto& stored = (*events)[a.version - 1];
      EXPECT_EQ(stored.position, a.position);
      EXPECT_EQ(stored.event.event_id, a.event_id);
    }
  }
}

// Eight senders append while the log's disk fills up and then has room again.
TEST_F(WriteFailureTest, SendersThroughAFullDiskLoseNothingAcknowledgedAndLeaveNoGaps) {
  auto pause = [] { std::this_thread::sleep_for(std::chrono::milliseconds(150)); };
  Senders senders(SenderAppend(), 8);
  ASSERT_TRUE(Eventually([&] { return senders.all_started(); }));
  pause();
  faults_.Set(Faults::Mode::kFull);
  pause();
  faults_.Set(Faults::Mode::kWork);
  pause();
  senders.Stop();
  ExpectNothingAcknowledgedLost(senders);
}

// A disk that fills up under the tables while the log still has room (RocksDB
// preallocates its log files, so this is how a full disk usually shows first): the
// flush fails, RocksDB stops taking writes, and once the disk has room again its
// recovery writes the flush and the writes resume, with nothing acknowledged lost.
TEST_F(WriteFailureTest, AFlushOntoAFullDiskStopsWritesUntilItHasRoomAndLosesNothing) {
  options_.memtable_bytes = 256 << 10;  // a flush every few hundred events
  Reopen();
  Senders senders(SenderAppend(), 4);
  ASSERT_TRUE(Eventually([&] { return senders.all_started(); }));
  faults_.Set(Faults::Mode::kFull, Files::kTables);
  ASSERT_TRUE(Eventually([&] { return faults_.failed_appends() > 0; }));
  // RocksDB refuses writes from the failed flush on (a background error) ...
  ASSERT_TRUE(Eventually([&] { return senders.refused() > 0; }));
  EXPECT_FALSE(store_->CheckWritable().ok());
  EXPECT_FALSE(store_->GetStats().writable);

  // ... until the disk has room again, when it resumes by itself.
  faults_.Set(Faults::Mode::kWork);
  const int acknowledged = senders.acknowledged();
  EXPECT_TRUE(Eventually([&] { return senders.acknowledged() > acknowledged; }));
  EXPECT_THAT(store_->CheckWritable(), IsOk());
  senders.Stop();
  ExpectNothingAcknowledgedLost(senders);
}

// RocksDB 7.8 takes an I/O error in a flush as fatal: DB::Resume() refuses it (tried),
// so writes stay refused until a restart, which keeps every acknowledged event.
TEST_F(WriteFailureTest, AnIoErrorInAFlushStopsWritesUntilARestartThatLosesNothing) {
  options_.memtable_bytes = 256 << 10;
  Reopen();
  Senders senders(SenderAppend(), 4);
  ASSERT_TRUE(Eventually([&] { return senders.all_started(); }));
  faults_.Set(Faults::Mode::kIoError, Files::kTables);
  ASSERT_TRUE(Eventually([&] { return senders.refused() > 0; }));
  faults_.Set(Faults::Mode::kWork);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int acknowledged = senders.acknowledged();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(senders.acknowledged(), acknowledged);
  EXPECT_EQ(store_->CheckWritable().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(store_->GetStats().writable);
  senders.Stop();
  ExpectNothingAcknowledgedLost(senders);
  EXPECT_TRUE(store_->GetStats().writable);
  auto after = Append({JobScenario("job-after").Created()});
  ASSERT_THAT(after, IsOk());
}

// The whole disk full: the log, the tables and the manifest all refuse, while senders
// keep appending and flushes come due; then it has room again.
TEST_F(WriteFailureTest, SendersThroughADiskFullForEveryFileLoseNothingAcknowledged) {
  options_.memtable_bytes = 256 << 10;
  Reopen();
  Senders senders(SenderAppend(), 4);
  ASSERT_TRUE(Eventually([&] { return senders.all_started(); }));
  ASSERT_TRUE(Eventually([&] { return senders.acknowledged() > 200; }));
  faults_.Set(Faults::Mode::kFull, Files::kAll);
  ASSERT_TRUE(Eventually([&] { return senders.refused() > 10; }));
  faults_.Set(Faults::Mode::kWork);
  // Writes come back by themselves (RocksDB retries its flush; 1 or 6 s here), unless
  // the log that failed is still the current one (storage/internal/db.h), when only a
  // restart brings them back.
  const int acknowledged = senders.acknowledged();
  if (!Eventually([&] { return senders.acknowledged() > acknowledged; })) {
    EXPECT_FALSE(store_->CheckWritable().ok());  // and /readyz says so
  }
  senders.Stop();
  ExpectNothingAcknowledgedLost(senders);
  auto after = Append({JobScenario("job-after").Created()});
  ASSERT_THAT(after, IsOk());
}

}  // namespace
}  // namespace jobstate::testing
