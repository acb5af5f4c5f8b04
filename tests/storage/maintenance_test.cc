// Replay and verification: rebuilding every derived record from the log gives the same
// bytes; verification names what was tampered with; an interrupted replay keeps the
// data dir closed until a replay completes.
#include <filesystem>
#include <fstream>
#include <map>

#include "engine/projector.h"
#include "storage/codec.h"
#include "storage/internal/commit_group.h"
#include "storage/internal/db.h"
#include "storage/internal/keys.h"
#include "storage/maintenance.h"
#include "tests/storage/random_history.h"
#include "tests/storage/refold.h"
#include "tests/storage/store_fixture.h"

namespace jobstate::testing {
namespace {

using storage::Cf;

// Every key and value of `cf`.
std::map<std::string, std::string> Dump(const storage::Db& db, Cf cf) {
  std::map<std::string, std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db.get()->NewIterator({}, db.cf(cf)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) out[it->key().ToString()] = it->value().ToString();
  EXPECT_TRUE(it->status().ok());
  return out;
}

// Families whose bytes depend only on the log (meta holds the jobs-by-status counts). Checkpoints and file versions are placed
// at commit-group ends, which the log does not record; they are checked by time travel.
const std::vector<Cf> kReproducible = {
    Cf::kSnapshots,  Cf::kFiles,           Cf::kFileIds,        Cf::kFilesByStatus,
    Cf::kDedupe,     Cf::kJobsByOrg,       Cf::kLogByOrg,       Cf::kMeta,
    Cf::kEtaHistory, Cf::kJobsByOrgStatus, Cf::kJobsByOrgFilter};

class MaintenanceTest : public StoreTest {
 protected:
  // The jid of acme's `job`, read from the jobs family.
  static uint64_t JidOf(const storage::Db& db, const std::string& job) {
    auto value = db.Get(Cf::kJobs, storage::keys::JobName("acme", job));
    EXPECT_TRUE(value.has_value() && *value) << job;
    return value.has_value() && *value ? storage::keys::DecodeFixed64((*value)->data()) : 0;
  }
  // Replays the data dir (the store closed), reopens it, and expects verify to find
  // nothing.
  void ReplayAndExpectACleanVerify() {
    store_.reset();
    ASSERT_THAT(storage::Replay(options_.path, {}), IsOk());
    Reopen();
    auto clean = store_->Verify({});
    ASSERT_THAT(clean, IsOk());
    EXPECT_TRUE(clean->differences.empty());
  }
  std::map<Cf, std::map<std::string, std::string>> DumpReproducible() {
    auto db = storage::Db::Open({options_.path});
    EXPECT_THAT(db, IsOk());
    std::map<Cf, std::map<std::string, std::string>> out;
    for (Cf cf : kReproducible) out[cf] = Dump(**db, cf);
    return out;
  }
};

TEST_F(MaintenanceTest, ReplayRebuildsByteIdenticalDerivedRecordsAndTimeTravelStillHolds) {
  const auto ids = AppendRandomHistories(*store_, clock_, 160, 99);
  store_.reset();
  const auto before = DumpReproducible();
  ASSERT_GT(before.at(Cf::kDedupe).size(), 5000u);
  // Completed jobs left accuracy records, so the totals in meta are worth comparing.
  engine::EtaAccuracyTotals accuracy;
  ASSERT_TRUE(before.at(Cf::kMeta).count("eta_accuracy"));
  ASSERT_TRUE(storage::DecodeEtaAccuracy(before.at(Cf::kMeta).at("eta_accuracy"), accuracy));
  EXPECT_GT(accuracy.at[2].count, 5);
  // And lessons for the ETA's prior: a record per completed job that had one to teach.
  std::array<int64_t, engine::kJobStatusCount> jobs{};
  ASSERT_TRUE(storage::DecodeJobCounts(before.at(Cf::kMeta).at("jobs_by_status"), jobs));
  const int64_t completed = jobs[size_t(engine::JobStatus::kCompleted)] +
                            jobs[size_t(engine::JobStatus::kCompletedWithFailures)];
  EXPECT_GT(before.at(Cf::kEtaHistory).size(), 5u);
  EXPECT_LE(int64_t(before.at(Cf::kEtaHistory).size()), completed);

  storage::ReplayOptions options;
  options.checkpoint_interval = 25;
  uint64_t reported = 0;
  options.progress = [&](const storage::ReplayProgress& p) { reported = p.events_done; };
  auto stats = storage::Replay(options_.path, options);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->events, before.at(Cf::kDedupe).size());
  EXPECT_EQ(reported, stats->events);
  const auto after = DumpReproducible();
  for (Cf cf : kReproducible) {
    SCOPED_TRACE(std::string(storage::CfName(cf)));
    ASSERT_EQ(after.at(cf).size(), before.at(cf).size());
    for (const auto& [key, value] : before.at(cf)) {
      auto it = after.at(cf).find(key);
      ASSERT_NE(it, after.at(cf).end()) << storage::keys::Describe(storage::CfName(cf), key);
      ASSERT_EQ(it->second, value) << storage::keys::Describe(storage::CfName(cf), key);
    }
  }

  Reopen();
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->jobs, ids.size());
  EXPECT_TRUE(report->differences.empty()) << report->differences[0].job_id << ": "
                                           << report->differences[0].what;
  // Time travel from the replayed checkpoints: every version of a few jobs.
  engine::FileQuery all;
  all.limit = 100'000;
  for (size_t j = 0; j < 8; ++j) {
    Folded want;
    want.snap.org = "acme";
    want.snap.job_id = ids[j];
    engine::MemoryFileTable files;
    auto events = store_->ReadJobEvents("acme", ids[j], 1, 1'000'000);
    ASSERT_THAT(events, IsOk());
    for (const auto& e : *events) {
      ASSERT_THAT(engine::Apply(want.snap, files, e), IsOk());
      auto read = store_->ReadAsOf("acme", ids[j], {e.version, std::nullopt}, all);
      ASSERT_THAT(read, IsOk());
      ASSERT_EQ(storage::EncodeSnapshot(read->page.job), storage::EncodeSnapshot(want.snap))
          << ids[j] << " @" << e.version;
      ASSERT_EQ(read->page.rows, files.rows()) << ids[j] << " @" << e.version;
    }
  }
  // And appends go on on top of replayed state.
  JobScenario more("after-replay");
  EXPECT_THAT(Append({more.Created(), more.Started()}), IsOk());
}

// Replay writes the families keyed by job as sorted files and ingests them; a job too
// large to sort in memory goes through the memtables instead. Either way, and mixed,
// the records are the same (the feed's too, whether an organisation's entries went
// to files of its own or not), and replay leaves no files of its own behind (nor those a
// replay that died left).
TEST_F(MaintenanceTest, ReplayGivesTheSameRecordsWhetherJobsAreSortedOrNot) {
  AppendRandomHistories(*store_, clock_, 40, 21);
  // More organisations than the feed gives files of their own (FeedFiles::kMaxOrgs),
  // their events interleaved in the log.
  std::vector<JobScenario> jobs;
  for (int o = 0; o < 70; ++o) jobs.emplace_back("org-job", kT0, 1000 + o);
  for (int round = 0; round < 3; ++round) {
    for (int o = 0; o < 70; ++o) {
      JobScenario& j = jobs[size_t(o)];
      engine::Event e = round == 0 ? j.Created() : round == 1 ? j.Started() : j.Discovered({"s3://b/a"});
      ASSERT_THAT(Append({e}, "org-" + std::to_string(o)), IsOk());
    }
  }
  store_.reset();
  const auto before = DumpReproducible();
  const std::filesystem::path sorted_dir = std::filesystem::path(options_.path) / "replay-sorted";
  std::filesystem::create_directories(sorted_dir);
  { std::ofstream(sorted_dir / "0-0.sst") << "left by a replay that died"; }
  for (size_t limit : {size_t{4096}, size_t{0}, size_t{256} << 20}) {
    SCOPED_TRACE("sorted_job_bytes " + std::to_string(limit));
    storage::ReplayOptions options;
    options.sorted_job_bytes = limit;  // 4 KiB: the small jobs sorted, the others not
    ASSERT_THAT(storage::Replay(options_.path, options), IsOk());
    EXPECT_FALSE(std::filesystem::exists(sorted_dir));
    const auto after = DumpReproducible();
    for (Cf cf : kReproducible) {
      SCOPED_TRACE(std::string(storage::CfName(cf)));
      EXPECT_TRUE(after.at(cf) == before.at(cf));
    }
  }
  Reopen();
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->differences.empty());
}

// The ETA's prior of several kinds of jobs (organisations, one named with the start of
// another's name; collections; job types), their completions interleaved in the log:
// replay writes the records of every kind, in key order, with the same bytes.
TEST_F(MaintenanceTest, ReplayRebuildsThePriorOfEveryKindOfJob) {
  struct Kind {
    std::string org, collection;
    engine::JobType type;
  };
  const std::vector<Kind> kinds = {{"acme", "docs", engine::JobType::kIndexS3},
                                   {"acme", "mail", engine::JobType::kIndexS3},
                                   {"acme", "docs", engine::JobType::kIndexGcs},
                                   {"acme-eu", "docs", engine::JobType::kIndexS3},
                                   {"beta", "docs", engine::JobType::kIndexS3}};
  std::vector<JobScenario> jobs;
  for (size_t round = 0; round < 3; ++round) {
    for (size_t k = 0; k < kinds.size(); ++k) {
      const std::string id = "kind-" + std::to_string(k) + "-" + std::to_string(round);
      JobScenario& j = jobs.emplace_back(id, kT0, 100 + jobs.size());
      engine::Event created = j.Created();
      auto& c = std::get<engine::JobCreated>(created.data);
      c.collection_name = kinds[k].collection;
      c.job_type = kinds[k].type;
      ASSERT_THAT(Append({created, j.Started(), j.Discovered({"s3://b/1", "s3://b/2"}),
                          j.FileStarted("s3://b/1"), j.FileStarted("s3://b/2")},
                         kinds[k].org),
                  IsOk());
    }
  }
  // Completed in an order that visits the kinds in turn, last round first.
  for (size_t i = jobs.size(); i-- > 0;) {
    JobScenario& j = jobs[i];
    j.Advance(1000 + 100 * static_cast<engine::Millis>(i));
    ASSERT_THAT(
        Append({j.FileCompleted("s3://b/1"), j.FileCompleted("s3://b/2"), j.Completed()},
               kinds[i % kinds.size()].org),
        IsOk());
  }
  store_.reset();
  const auto before = DumpReproducible();
  ASSERT_EQ(before.at(Cf::kEtaHistory).size(), jobs.size());
  ASSERT_THAT(storage::Replay(options_.path, {}), IsOk());
  const auto after = DumpReproducible();
  for (Cf cf : kReproducible) {
    SCOPED_TRACE(std::string(storage::CfName(cf)));
    EXPECT_TRUE(after.at(cf) == before.at(cf));
  }
}

// Replay and verify keep their iterators from job to job and open them again now and
// then (replay every ReplayOptions::jobs_per_iterator jobs, verify every 1,024): one
// thread through 2,600 jobs crosses that twice, and nothing changes.
// None of the jobs completes, so no ETA accuracy is recorded, and replay writes none.
TEST_F(MaintenanceTest, ReplayAndVerifyOfThousandsOfJobsOnOneThread) {
  std::vector<engine::Event> batch;
  for (int i = 0; i < 2600; ++i) {
    JobScenario j("many-" + std::to_string(i), kT0, 5000 + static_cast<uint64_t>(i));
    for (auto& e : {j.Created(), j.Started(), j.Discovered({"s3://b/" + std::to_string(i)}),
                    j.FileStarted("s3://b/" + std::to_string(i))}) {
      batch.push_back(e);
    }
    if (batch.size() >= 400 || i == 2599) {
      ASSERT_THAT(Append(std::move(batch)), IsOk());
      batch.clear();
    }
  }
  store_.reset();
  const auto before = DumpReproducible();
  ASSERT_EQ(before.at(Cf::kSnapshots).size(), 2600u);
  storage::ReplayOptions replay;
  replay.threads = 1;
  replay.jobs_per_iterator = 1024;
  auto stats = storage::Replay(options_.path, replay);
  ASSERT_THAT(stats, IsOk());
  EXPECT_EQ(stats->jobs, 2600u);
  const auto after = DumpReproducible();
  for (Cf cf : kReproducible) {
    SCOPED_TRACE(std::string(storage::CfName(cf)));
    EXPECT_TRUE(after.at(cf) == before.at(cf));
  }
  Reopen();
  engine::VerifyOptions verify;
  verify.threads = 1;
  auto report = store_->Verify(verify);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->jobs, 2600u);
  EXPECT_EQ(report->events, 4u * 2600u);
  EXPECT_TRUE(report->differences.empty());
}

TEST_F(MaintenanceTest, VerifyNamesEachTamperedRecordAndItsJob) {
  const auto ids = AppendRandomHistories(*store_, clock_, 12, 7);
  auto clean = store_->Verify({});
  ASSERT_THAT(clean, IsOk());
  ASSERT_TRUE(clean->differences.empty());
  store_.reset();
  std::string row_job;
  {
    auto db = storage::Db::Open({options_.path});
    ASSERT_THAT(db, IsOk());
    rocksdb::WriteOptions wo;
    // job-3's snapshot says failed; another job's first file row is cancelled; one of
    // job-7's dedupe entries is gone.
    auto jid = [&](const std::string& job) { return JidOf(**db, job); };
    const std::string snap_key = storage::keys::Job(jid("job-3"));
    auto snap = storage::DecodeSnapshot(**(*db)->Get(Cf::kSnapshots, snap_key), "s");
    ASSERT_THAT(snap, IsOk());
    ASSERT_EQ(snap->job_id, "job-3");
    snap->status = snap->status == engine::JobStatus::kFailed ? engine::JobStatus::kCompleted
                                                              : engine::JobStatus::kFailed;
    ASSERT_TRUE((*db)->get()->Put(wo, (*db)->cf(Cf::kSnapshots), snap_key,
                                  storage::EncodeSnapshot(*snap)).ok());
    // (The first job after job-3 with a file row: not every random job discovers one.)
    std::string row_key;
    for (size_t i = 4; i < ids.size() && row_key.empty(); ++i) {
      if (ids[i] == "job-7") continue;
      auto found = (*db)->Get(Cf::kFiles, storage::keys::File(jid(ids[i]), 0));
      ASSERT_THAT(found, IsOk());
      if (*found) {
        row_job = ids[i];
        row_key = storage::keys::File(jid(ids[i]), 0);
      }
    }
    ASSERT_FALSE(row_key.empty());
    auto row = storage::DecodeFileRow(**(*db)->Get(Cf::kFiles, row_key), "f");
    ASSERT_THAT(row, IsOk());
    row->status = row->status == engine::FileStatus::kCancelled ? engine::FileStatus::kCompleted
                                                                : engine::FileStatus::kCancelled;
    ASSERT_TRUE((*db)->get()->Put(wo, (*db)->cf(Cf::kFiles), row_key,
                                  storage::EncodeFileRow(*row)).ok());
    std::unique_ptr<rocksdb::Iterator> it((*db)->get()->NewIterator({}, (*db)->cf(Cf::kDedupe)));
    it->Seek(storage::keys::Job(jid("job-7")));
    ASSERT_TRUE(it->Valid());
    ASSERT_TRUE((*db)->get()->Delete(wo, (*db)->cf(Cf::kDedupe), it->key()).ok());
  }
  Reopen();
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  std::map<std::string, std::vector<std::string>> by_job;
  for (const auto& d : report->differences) by_job[d.job_id].push_back(d.what);
  ASSERT_EQ(by_job.size(), 3u);
  EXPECT_EQ(by_job["job-3"], std::vector<std::string>{"snapshot: status"});
  ASSERT_EQ(by_job[row_job].size(), 1u);
  EXPECT_EQ(by_job[row_job][0], "file 0: status");
  ASSERT_EQ(by_job["job-7"].size(), 1u);
  EXPECT_NE(by_job["job-7"][0].find("dedupe entry"), std::string::npos);
  EXPECT_NE(by_job["job-7"][0].find("missing"), std::string::npos);
  // One job at a time.
  storage::VerifyOptions one;
  one.job = std::make_pair(std::string("acme"), std::string("job-1"));
  auto single = store_->Verify(one);
  ASSERT_THAT(single, IsOk());
  EXPECT_EQ(single->jobs, 1u);
  EXPECT_TRUE(single->differences.empty());
  one.job->second = "job-404";
  EXPECT_THAT(store_->Verify(one), StatusIs(StatusCode::kNotFound, "job_not_found"));
}

// The listing indexes: an entry under a status the job is not in, and a job without
// its entry, are named; the listing does not show the stale one; replay rebuilds both.
TEST_F(MaintenanceTest, VerifyNamesAStaleOrMissingListingEntry) {
  JobScenario a("job-a"), b("job-b", kT0, 1);
  ASSERT_THAT(Append({a.Created()}), IsOk());
  ASSERT_THAT(Append({b.Created(), b.Started()}), IsOk());
  store_.reset();
  {
    auto db = storage::Db::Open({options_.path});
    ASSERT_THAT(db, IsOk());
    const auto status_key = [&](const std::string& job, engine::JobStatus s) {
      return storage::keys::OrgStatusJob("acme", s, kT0, JidOf(**db, job));
    };
    const auto type_key = [&](const std::string& job, engine::JobStatus s) {
      return storage::keys::ListingEntry(
          storage::keys::ListingFilterPrefix("acme", storage::keys::ListingFilter::kType,
                                             "", engine::JobType::kIndexS3),
          s, kT0, JidOf(**db, job));
    };
    rocksdb::DB& rocks = *(*db)->get();
    ASSERT_TRUE(rocks
                    .Put({}, (*db)->cf(Cf::kJobsByOrgStatus),
                         status_key("job-a", engine::JobStatus::kRunning), "")
                    .ok());
    ASSERT_TRUE(rocks
                    .Put({}, (*db)->cf(Cf::kJobsByOrgFilter),
                         type_key("job-a", engine::JobStatus::kRunning), "")
                    .ok());
    ASSERT_TRUE(rocks
                    .Delete({}, (*db)->cf(Cf::kJobsByOrgStatus),
                            status_key("job-b", engine::JobStatus::kRunning))
                    .ok());
    ASSERT_TRUE(rocks
                    .Delete({}, (*db)->cf(Cf::kJobsByOrgFilter),
                            type_key("job-b", engine::JobStatus::kRunning))
                    .ok());
  }
  Reopen();
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  std::map<std::string, std::vector<std::string>> by_job;
  for (const auto& d : report->differences) by_job[d.job_id].push_back(d.what);
  EXPECT_EQ(by_job["job-a"],
            (std::vector<std::string>{"listing by status: also under running",
                                      "listing by filter: also under running"}));
  EXPECT_EQ(by_job["job-b"], (std::vector<std::string>{"listing by status: missing",
                                                       "listing by filter: missing"}));
  engine::JobQuery running;
  running.statuses = {engine::JobStatus::kRunning};
  engine::JobQuery running_s3 = running;
  running_s3.job_type = engine::JobType::kIndexS3;
  engine::JobQuery running_docs = running;
  running_docs.collection_name = "docs";
  for (const engine::JobQuery& query : {running, running_s3}) {
    auto page = store_->ListJobs("acme", query);
    ASSERT_THAT(page, IsOk());
    EXPECT_TRUE(page->jobs.empty());  // job-a is pending; job-b lost its entries
  }
  auto page = store_->ListJobs("acme", running_docs);  // job-b's entry there is intact
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->jobs.size(), 1u);

  ASSERT_NO_FATAL_FAILURE(ReplayAndExpectACleanVerify());
  for (const engine::JobQuery& query : {running, running_s3, running_docs}) {
    page = store_->ListJobs("acme", query);
    ASSERT_THAT(page, IsOk());
    ASSERT_EQ(page->jobs.size(), 1u);
    EXPECT_EQ(page->jobs[0].job_id, "job-b");
  }
}

// Listing entries no job accounts for: one for a job that does not exist, one naming a
// real job under a collection it does not have. The per-job checks cannot see them;
// the whole-store verify counts them per family, and replay removes them.
TEST_F(MaintenanceTest, VerifyCountsListingEntriesNoJobExplains) {
  JobScenario a("job-a");
  ASSERT_THAT(Append({a.Created(), a.Started()}), IsOk());
  store_.reset();
  {
    auto db = storage::Db::Open({options_.path});
    ASSERT_THAT(db, IsOk());
    const uint64_t jid = JidOf(**db, "job-a");
    const auto by_collection = [&](const std::string& collection, uint64_t j) {
      return storage::keys::ListingEntry(
          storage::keys::ListingFilterPrefix("acme",
                                             storage::keys::ListingFilter::kCollection,
                                             collection, engine::JobType::kIndexS3),
          engine::JobStatus::kRunning, kT0, j);
    };
    rocksdb::DB& rocks = *(*db)->get();
    ASSERT_TRUE(
        rocks.Put({}, (*db)->cf(Cf::kJobsByOrgFilter), by_collection("mail", jid), "")
            .ok());
    ASSERT_TRUE(rocks
                    .Put({}, (*db)->cf(Cf::kJobsByOrgFilter),
                         by_collection("docs", jid + 100), "")
                    .ok());
    ASSERT_TRUE(rocks
                    .Put({}, (*db)->cf(Cf::kJobsByOrgStatus),
                         storage::keys::OrgStatusJob("acme", engine::JobStatus::kRunning,
                                                     kT0, jid + 100),
                         "")
                    .ok());
  }
  Reopen();
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  std::vector<std::string> whats;
  for (const auto& d : report->differences) whats.push_back(d.what);
  EXPECT_EQ(whats,
            (std::vector<std::string>{"jobs_by_org_status: 1 entry no job explains",
                                      "jobs_by_org_filter: 2 entries no job explains"}));
  // One job's verify does not count them (it does not read the whole family).
  storage::VerifyOptions one;
  one.job = std::make_pair(std::string("acme"), std::string("job-a"));
  auto single = store_->Verify(one);
  ASSERT_THAT(single, IsOk());
  EXPECT_TRUE(single->differences.empty());

  ASSERT_NO_FATAL_FAILURE(ReplayAndExpectACleanVerify());
}

// A data dir of format jobstate/2 had neither listing index, one of jobstate/3 no
// listing by filter: the first open builds them from the listing and the snapshots,
// with the bytes the commit path writes, and marks the dir with this build's format.
TEST_F(MaintenanceTest, AnOlderDataDirGainsTheListingIndexesWhenOpened) {
  AppendRandomHistories(*store_, clock_, 40, 11);
  store_.reset();
  const auto before = DumpReproducible();
  ASSERT_EQ(before.at(Cf::kJobsByOrgStatus).size(), 40u);
  ASSERT_EQ(before.at(Cf::kJobsByOrgFilter).size(), 3 * 40u);
  EXPECT_EQ(before.at(Cf::kMeta).at("format"), "jobstate/4");
  const std::vector<std::pair<std::string, std::vector<Cf>>> older = {
      {"jobstate/2", {Cf::kJobsByOrgStatus, Cf::kJobsByOrgFilter}},
      {"jobstate/3", {Cf::kJobsByOrgFilter}}};
  for (const auto& [format, missing] : older) {
    SCOPED_TRACE(format);
    {
      auto db = storage::Db::Open({options_.path});
      ASSERT_THAT(db, IsOk());
      ASSERT_THAT((*db)->Recreate(missing), IsOk());
      ASSERT_TRUE((*db)->get()->Put({}, (*db)->cf(Cf::kMeta), "format", format).ok());
    }
    for (Cf cf : missing) ASSERT_TRUE(DumpReproducible().at(cf).empty());
    Reopen();
    ASSERT_TRUE(store_->upgrade().has_value());
    EXPECT_EQ(store_->upgrade()->from, format);
    EXPECT_EQ(store_->upgrade()->to, "jobstate/4");
    EXPECT_EQ(store_->upgrade()->jobs, 40u);
    Reopen();
    EXPECT_FALSE(store_->upgrade().has_value());  // once
    store_.reset();
    const auto after = DumpReproducible();
    EXPECT_TRUE(after.at(Cf::kJobsByOrgStatus) == before.at(Cf::kJobsByOrgStatus));
    EXPECT_TRUE(after.at(Cf::kJobsByOrgFilter) == before.at(Cf::kJobsByOrgFilter));
    EXPECT_EQ(after.at(Cf::kMeta).at("format"), "jobstate/4");
    Reopen();
    auto report = store_->Verify({});
    ASSERT_THAT(report, IsOk());
    EXPECT_TRUE(report->differences.empty());
    store_.reset();
  }
}

// Verification in parallel, and with dedupe entries read one by one instead of in one
// pass, reports what one thread does, in the same order: the feed entries it now reads
// with a forward cursor, and dedupe entries no event explains.
TEST_F(MaintenanceTest, VerifyInParallelReportsWhatOneThreadReports) {
  AppendRandomHistories(*store_, clock_, 30, 13);
  storage::VerifyOptions parallel;
  parallel.threads = 4;
  auto clean = store_->Verify(parallel);
  ASSERT_THAT(clean, IsOk());
  // The job counts, accuracy totals and priors summed by four threads match the stored.
  EXPECT_TRUE(clean->differences.empty());
  EXPECT_EQ(clean->jobs, 30u);
  store_.reset();
  uint64_t lost_position = 0, changed_position = 0;
  {
    auto db = storage::Db::Open({options_.path});
    ASSERT_THAT(db, IsOk());
    rocksdb::WriteOptions wo;
    auto jid = [&](const std::string& job) { return JidOf(**db, job); };
    // The feed entry of job-2's third event is gone; job-4's second names another job.
    auto feed_of = [&](const std::string& job, int nth) {
      const std::string prefix = storage::keys::Job(jid(job));
      std::unique_ptr<rocksdb::Iterator> it((*db)->get()->NewIterator({}, (*db)->cf(Cf::kLogByOrg)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (it->value().starts_with(prefix) && nth-- == 1) return it->key().ToString();
      }
      ADD_FAILURE() << "no feed entry";
      return std::string();
    };
    const std::string lost = feed_of("job-2", 3), changed = feed_of("job-4", 2);
    lost_position = storage::keys::TrailingFixed64(lost);
    changed_position = storage::keys::TrailingFixed64(changed);
    ASSERT_TRUE((*db)->get()->Delete(wo, (*db)->cf(Cf::kLogByOrg), lost).ok());
    ASSERT_TRUE((*db)->get()->Put(wo, (*db)->cf(Cf::kLogByOrg), changed,
                                  storage::keys::JobVersion(jid("job-5"), 1)).ok());
    // job-6 has a dedupe entry for an event it never had; one of job-8's is gone.
    const std::string job6 = storage::keys::Dedupe(jid("job-6"), "no-such-event");
    ASSERT_TRUE((*db)->get()->Put(wo, (*db)->cf(Cf::kDedupe), job6, "x").ok());
    std::unique_ptr<rocksdb::Iterator> it((*db)->get()->NewIterator({}, (*db)->cf(Cf::kDedupe)));
    it->Seek(storage::keys::Job(jid("job-8")));
    ASSERT_TRUE(it->Valid());
    ASSERT_TRUE((*db)->get()->Delete(wo, (*db)->cf(Cf::kDedupe), it->key()).ok());
  }
  Reopen();
  storage::VerifyOptions one_thread;
  auto want = store_->Verify(one_thread);
  ASSERT_THAT(want, IsOk());
  std::map<std::string, std::vector<std::string>> by_job;
  for (const auto& d : want->differences) by_job[d.job_id].push_back(d.what);
  ASSERT_EQ(by_job.size(), 4u);
  EXPECT_EQ(by_job["job-2"], std::vector<std::string>{"feed entry of position " +
                                                      std::to_string(lost_position) + ": missing"});
  EXPECT_EQ(by_job["job-4"], std::vector<std::string>{"feed entry of position " +
                                                      std::to_string(changed_position) + ": differs"});
  EXPECT_EQ(by_job["job-6"],
            std::vector<std::string>{"dedupe: 1 entries no event of the stream explains"});
  ASSERT_EQ(by_job["job-8"].size(), 1u);
  EXPECT_NE(by_job["job-8"][0].find("missing"), std::string::npos);

  storage::VerifyOptions one_by_one = parallel;
  one_by_one.scanned_dedupe_limit = 1;  // every job's dedupe entries read per event
  for (const storage::VerifyOptions& options : {parallel, one_by_one}) {
    auto got = store_->Verify(options);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->jobs, want->jobs);
    EXPECT_EQ(got->events, want->events);
    ASSERT_EQ(got->differences.size(), want->differences.size());
    for (size_t i = 0; i < want->differences.size(); ++i) {
      EXPECT_EQ(got->differences[i].job_id, want->differences[i].job_id);
      EXPECT_EQ(got->differences[i].what, want->differences[i].what);
    }
  }
}

// A data dir whose server started and stopped without an event has no jobs-by-status
// record yet: that is zero jobs of every status, not a difference. A record removed
// from a store that has jobs still is one.
TEST_F(MaintenanceTest, VerifyOfAStoreThatNeverCommittedIsClean) {
  auto empty = store_->Verify({});
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->differences.empty());

  AppendRandomHistories(*store_, clock_, 5, 3);
  store_.reset();
  {
    auto db = storage::Db::Open({options_.path});
    ASSERT_THAT(db, IsOk());
    ASSERT_TRUE((*db)->get()->Delete({}, (*db)->cf(Cf::kMeta), "jobs_by_status").ok());
  }
  Reopen();
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  ASSERT_EQ(report->differences.size(), 1u);
  EXPECT_EQ(report->differences[0].what,
            "meta jobs_by_status: differs from the jobs' statuses");
}

TEST_F(MaintenanceTest, VerifyNamesTamperedEtaAccuracyTotals) {
  AppendRandomHistories(*store_, clock_, 30, 11);
  const auto stats = store_->GetStats();
  ASSERT_GT(stats.eta_accuracy.at[0].count, 0);
  store_.reset();
  {
    auto db = storage::Db::Open({options_.path});
    ASSERT_THAT(db, IsOk());
    engine::EtaAccuracyTotals tampered = stats.eta_accuracy;
    ++tampered.at[3].le[0];
    ASSERT_TRUE((*db)->get()->Put({}, (*db)->cf(Cf::kMeta), "eta_accuracy",
                                  storage::EncodeEtaAccuracy(tampered)).ok());
  }
  Reopen();
  EXPECT_EQ(store_->GetStats().eta_accuracy.at[3].le[0], stats.eta_accuracy.at[3].le[0] + 1);
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  ASSERT_EQ(report->differences.size(), 1u);
  EXPECT_EQ(report->differences[0].what, "meta eta_accuracy: differs from the jobs' records");
  // Replay rebuilds it from the jobs.
  store_.reset();
  ASSERT_THAT(storage::Replay(options_.path, {}), IsOk());
  Reopen();
  EXPECT_EQ(store_->GetStats().eta_accuracy, stats.eta_accuracy);
}

TEST_F(MaintenanceTest, VerifyNamesTamperedEtaHistoryAndReplayRestoresIt) {
  AppendRandomHistories(*store_, clock_, 30, 12);
  store_.reset();
  std::map<std::string, std::string> clean;
  {
    auto db = storage::Db::Open({options_.path});
    ASSERT_THAT(db, IsOk());
    clean = Dump(**db, Cf::kEtaHistory);
    ASSERT_GT(clean.size(), 2u);
    // One record lost, one that no job explains.
    ASSERT_TRUE((*db)->get()->Delete({}, (*db)->cf(Cf::kEtaHistory), clean.begin()->first).ok());
    ASSERT_TRUE((*db)->get()->Put({}, (*db)->cf(Cf::kEtaHistory), clean.rbegin()->first + "x",
                                  clean.rbegin()->second).ok());
  }
  Reopen();
  auto report = store_->Verify({});
  ASSERT_THAT(report, IsOk());
  ASSERT_EQ(report->differences.size(), 1u);
  EXPECT_EQ(report->differences[0].what, "eta_history: 2 records differ from the jobs' lessons");
  store_.reset();
  ASSERT_THAT(storage::Replay(options_.path, {}), IsOk());
  auto db = storage::Db::Open({options_.path});
  ASSERT_THAT(db, IsOk());
  EXPECT_EQ(Dump(**db, Cf::kEtaHistory), clean);
}

TEST_F(MaintenanceTest, AnInterruptedReplayKeepsTheDataDirClosedUntilOneCompletes) {
  AppendRandomHistories(*store_, clock_, 10, 3);
  store_.reset();
  const auto before = DumpReproducible();
  std::atomic<bool> stop{true};
  storage::ReplayOptions options;
  options.stop = &stop;
  EXPECT_THAT(storage::Replay(options_.path, options), StatusIs(StatusCode::kAborted, "interrupted"));
  EXPECT_THAT(storage::Store::Open(options_, clock_),
              StatusIs(StatusCode::kFailedPrecondition, "replay_unfinished"));
  stop = false;
  ASSERT_THAT(storage::Replay(options_.path, options), IsOk());
  EXPECT_EQ(DumpReproducible(), before);
  Reopen();
}

TEST_F(MaintenanceTest, ReplayRefusesADataDirInUse) {
  auto r = storage::Replay(options_.path, {});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable) << r.error().ToString();
}

}  // namespace
}  // namespace jobstate::testing
