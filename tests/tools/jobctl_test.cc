// jobctl as operators run it: the real binary against real data dirs.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

#include "storage/codec.h"
#include "storage/store.h"
#include "tests/storage/random_history.h"
#include "tests/storage/refold.h"
#include "tests/support/fake_clock.h"
#include "tests/support/job_scenario.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace jobstate::testing {
namespace {

struct Ran {
  int code = -1;
  std::string out;
};

// Runs jobctl with `args` (a shell-quoted string), capturing stdout.
// The value of an unlabelled gauge in a Prometheus text file, or -1.
double Gauge(const std::string& path, const std::string& name) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

Ran Jobctl(const std::string& args) {
  Ran r;
  FILE* p = popen((std::string(JOBSTATE_JOBCTL) + " " + args + " 2>/dev/null").c_str(), "r");
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class JobctlTest : public ::testing::Test {
 protected:
  void SetUp() override { options_.path = dir_.Sub("data"); }

  std::unique_ptr<storage::Store> Open(const std::string& path) {
    storage::StoreOptions o;
    o.path = path;
    auto s = storage::Store::Open(o, clock_);
    EXPECT_THAT(s, IsOk());
    return s ? std::move(*s) : nullptr;
  }
  // Every job's snapshot and file rows, byte for byte.
  std::map<std::string, std::string> Statuses(const std::string& path,
                                              const std::vector<std::string>& ids) {
    auto store = Open(path);
    std::map<std::string, std::string> out;
    for (const auto& id : ids) {
      auto snap = store->GetSnapshot("acme", id);
      out[id] = snap ? storage::EncodeSnapshot(*snap) : snap.error().ToString();
      auto rows = AllRows(*store, "acme", id);
      if (rows) {
        for (const auto& row : *rows) out[id] += storage::EncodeFileRow(row);
      }
    }
    return out;
  }
  std::string Flags() const { return "--data-dir " + options_.path; }

  TempDir dir_;
  FakeClock clock_{kT0 + 60'000};
  storage::StoreOptions options_;
};

TEST_F(JobctlTest, ExportThenImportIntoAnEmptyDirGivesIdenticalStatuses) {
  std::vector<std::string> ids;
  {
    auto store = Open(options_.path);
    ids = AppendRandomHistories(*store, clock_, 40, 11);
  }
  const std::string file = dir_.Sub("export.ndjson");
  Ran exported = Jobctl(Flags() + " export");
  ASSERT_EQ(exported.code, 0);
  std::ofstream(file) << exported.out;
  const std::string copy = dir_.Sub("copy");
  Ran imported = Jobctl("--data-dir " + copy + " import " + file);
  ASSERT_EQ(imported.code, 0) << imported.out;
  EXPECT_EQ(Statuses(copy, ids), Statuses(options_.path, ids));
  // Idempotent: again, everything is already stored.
  Ran again = Jobctl("--data-dir " + copy + " import " + file);
  ASSERT_EQ(again.code, 0);
  EXPECT_NE(again.out.find("imported 0 events"), std::string::npos) << again.out;
  EXPECT_EQ(Jobctl("--data-dir " + copy + " verify").code, 0);
  // The same log: the exports are identical line for line.
  EXPECT_EQ(Jobctl("--data-dir " + copy + " export").out, exported.out);
}

TEST_F(JobctlTest, ImportRejectsALineThatBreaksTheRulesAndNamesIt) {
  {
    auto store = Open(options_.path);
    JobScenario a("job-a");
    ASSERT_THAT(store->Append({"acme", "k", {a.Created(), a.Started()}, {}}), IsOk());
  }
  Ran exported = Jobctl(Flags() + " export");
  std::string text = exported.out;
  // Line 2 claims version 5 where the stream is at 1.
  const size_t at = text.find("\"version\":2");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 11, "\"version\":5");
  std::ofstream(dir_.Sub("bad.ndjson")) << text;
  const std::string copy = dir_.Sub("copy");
  FILE* p = popen((std::string(JOBSTATE_JOBCTL) + " --data-dir " + copy + " import " +
                   dir_.Sub("bad.ndjson") + " 2>&1").c_str(), "r");
  char buf[4096];
  std::string out(buf, fread(buf, 1, sizeof buf, p));
  EXPECT_EQ(WEXITSTATUS(pclose(p)), 1);
  EXPECT_NE(out.find("line 2"), std::string::npos) << out;
  EXPECT_NE(out.find("version"), std::string::npos) << out;
}

TEST_F(JobctlTest, BackupThenRestoreThenVerifyIsClean) {
  std::vector<std::string> ids;
  {
    auto store = Open(options_.path);
    ids = AppendRandomHistories(*store, clock_, 20, 5);
  }
  const std::string backups = dir_.Sub("backups");
  ASSERT_EQ(Jobctl(Flags() + " backup " + backups).code, 0);
  const std::string restored = dir_.Sub("restored");
  ASSERT_EQ(Jobctl("--data-dir " + restored + " restore " + backups).code, 0);
  Ran verified = Jobctl("--data-dir " + restored + " verify");
  EXPECT_EQ(verified.code, 0) << verified.out;
  EXPECT_NE(verified.out.find("verified 20 jobs"), std::string::npos) << verified.out;
  // One thread says the same.
  Ran one = Jobctl("--data-dir " + restored + " verify --threads 1");
  EXPECT_EQ(one.code, 0) << one.out;
  EXPECT_NE(one.out.find("verified 20 jobs"), std::string::npos) << one.out;
  EXPECT_EQ(Statuses(restored, ids), Statuses(options_.path, ids));
  // Restoring over a data dir that holds data is refused.
  EXPECT_EQ(Jobctl(Flags() + " restore " + backups).code, 1);
}

TEST_F(JobctlTest, ReplayKilledHalfWayThenRunAgainEndsIdentical) {
  // One big job: about 120,000 events, so the replay reports progress before it ends.
  JobScenario big("big");
  {
    auto store = Open(options_.path);
    std::vector<engine::Event> batch = {big.Created(), big.Started()};
    std::vector<std::string> uris;
    for (int f = 0; f < 60'000; ++f) {
      uris.push_back("s3://b/" + std::to_string(f));
      if (uris.size() == 500) {
        batch.push_back(big.Discovered(uris));
        uris.clear();
      }
    }
    for (int f = 0; f < 60'000; ++f) {
      batch.push_back(big.FileStarted("s3://b/" + std::to_string(f)));
      batch.push_back(big.FileCompleted("s3://b/" + std::to_string(f)));
      if (batch.size() >= 1000) {
        ASSERT_THAT(store->Append({"acme", "k", std::move(batch), {}}), IsOk());
        batch.clear();
      }
    }
    if (!batch.empty()) {
      ASSERT_THAT(store->Append({"acme", "k", std::move(batch), {}}), IsOk());
    }
  }
  const auto before = Statuses(options_.path, {"big"});

  // Start a replay, wait for its first progress line, kill it.
  const std::string metrics = dir_.Sub("replay.prom");
  int err[2];
  ASSERT_EQ(pipe(err), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], STDERR_FILENO);
    execl(JOBSTATE_JOBCTL, "jobctl", "--data-dir", options_.path.c_str(), "replay",
          "--metrics-file", metrics.c_str(), nullptr);
    _exit(127);
  }
  close(err[1]);
  char c;
  while (read(err[0], &c, 1) == 1 && c != '\n') {
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(err[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the replay ended before it was killed";
  // The metrics file shows a replay still running, part of the way.
  const double total = Gauge(metrics, "jobstate_replay_events");
  EXPECT_EQ(Gauge(metrics, "jobstate_replay_running"), 1);
  EXPECT_GT(Gauge(metrics, "jobstate_replay_events_done"), 0);
  EXPECT_LT(Gauge(metrics, "jobstate_replay_events_done"), total);
  EXPECT_GT(total, 120'000);

  storage::StoreOptions o;
  o.path = options_.path;
  EXPECT_THAT(storage::Store::Open(o, clock_),
              StatusIs(StatusCode::kFailedPrecondition, "replay_unfinished"));
  Ran again = Jobctl(Flags() + " replay --metrics-file " + metrics);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Statuses(options_.path, {"big"}), before);
  EXPECT_EQ(Gauge(metrics, "jobstate_replay_running"), 0);
  EXPECT_EQ(Gauge(metrics, "jobstate_replay_events_done"), total);
  EXPECT_EQ(Gauge(metrics, "jobstate_replay_events"), total);
  const std::string verify_metrics = dir_.Sub("verify.prom");
  EXPECT_EQ(Jobctl(Flags() + " verify --metrics-file " + verify_metrics).code, 0);
  EXPECT_EQ(Gauge(verify_metrics, "jobstate_verify_jobs_done"), 1);
  EXPECT_EQ(Gauge(verify_metrics, "jobstate_verify_running"), 0);
  EXPECT_EQ(Gauge(verify_metrics, "jobstate_verify_differences"), 0);
  // CI checks that the alerting rules name only series these files or the server's
  // scrape hold (deploy/prometheus).
  if (const char* out = std::getenv("JOBSTATE_JOBCTL_METRICS_SAMPLES")) {
    std::ofstream(std::string(out) + "/replay.prom") << std::ifstream(metrics).rdbuf();
    std::ofstream(std::string(out) + "/verify.prom")
        << std::ifstream(verify_metrics).rdbuf();
  }
}

TEST_F(JobctlTest, StatusEventsAndTimeTravelFromTheCommandLine) {
  {
    auto store = Open(options_.path);
    JobScenario a("job-a");
    ASSERT_THAT(store->Append({"acme", "k", {a.Created(), a.Started(), a.Progress("hello")}, {}}),
                IsOk());
  }
  Ran now = Jobctl(Flags() + " status job-a --org acme");
  ASSERT_EQ(now.code, 0);
  auto status = boost::json::parse(now.out);
  EXPECT_EQ(status.at("version").as_int64(), 3);
  EXPECT_EQ(status.at("status"), "running");
  Ran then = Jobctl(Flags() + " status job-a --org acme --as-of-version 1");
  ASSERT_EQ(then.code, 0);
  EXPECT_EQ(boost::json::parse(then.out).at("status"), "pending");
  Ran events = Jobctl(Flags() + " events job-a --org acme");
  ASSERT_EQ(events.code, 0);
  EXPECT_EQ(std::count(events.out.begin(), events.out.end(), '\n'), 3);
  EXPECT_EQ(Jobctl(Flags() + " status nope --org acme").code, 1);
  EXPECT_EQ(Jobctl(Flags() + " status job-a --as-of-version 1 --as-of 2026-01-01T00:00:00Z").code, 2);
}

// OPERATIONS.md: commands that write need the server stopped. Those that only read
// work beside it, on the data dir as it stands when they start.
TEST_F(JobctlTest, BesideARunningServerReadCommandsReadAndWritingOnesSayWhy) {
  auto store = Open(options_.path);  // as a running server would
  JobScenario a("job-a");
  ASSERT_THAT(store->Append({"acme", "k", {a.Created(), a.Started()}, {}}), IsOk());
  { std::ofstream(dir_.Sub("import.ndjson")) << ""; }
  for (const std::string& cmd :
       std::vector<std::string>{"replay", "backup " + dir_.Sub("backup"),
                                "import " + dir_.Sub("import.ndjson") + " --org acme"}) {
    EXPECT_EQ(Jobctl(Flags() + " " + cmd).code, 3) << cmd;
  }

  Ran status = Jobctl(Flags() + " status job-a --org acme");
  ASSERT_EQ(status.code, 0);
  EXPECT_EQ(boost::json::parse(status.out).at("version").as_int64(), 2);
  // What the server commits later, the next command sees.
  ASSERT_THAT(store->Append({"acme", "k", {a.Discovered({"s3://b/1"})}, {}}), IsOk());
  status = Jobctl(Flags() + " status job-a --org acme");
  ASSERT_EQ(status.code, 0);
  EXPECT_EQ(boost::json::parse(status.out).at("version").as_int64(), 3);
  EXPECT_EQ(boost::json::parse(status.out).at("progress").at("files_total").as_int64(),
            1);

  for (const char* cmd : {"export", "events job-a --org acme"}) {
    Ran ran = Jobctl(Flags() + " " + cmd);
    EXPECT_EQ(ran.code, 0) << cmd;
    EXPECT_EQ(std::count(ran.out.begin(), ran.out.end(), '\n'), 3) << cmd;
  }
  Ran verify = Jobctl(Flags() + " verify");
  EXPECT_EQ(verify.code, 0);
  EXPECT_NE(verify.out.find("verified 1 jobs, 3 events: 0 differences"),
            std::string::npos)
      << verify.out;
  EXPECT_EQ(Jobctl(Flags() + " space").code, 0);
  // The server went on writing all along.
  ASSERT_THAT(store->Append({"acme", "k", {a.FileStarted("s3://b/1")}, {}}), IsOk());
}

// Where the bytes are: a line per column family with its kind, then the log and the
// totals. A clean close flushed the memtables, so the tables hold everything.
TEST_F(JobctlTest, SpaceShowsEachFamilyAsTruthOrDerived) {
  {
    auto store = Open(options_.path);
    AppendRandomHistories(*store, clock_, 20, 3);
  }
  Ran r = Jobctl(Flags() + " space");
  ASSERT_EQ(r.code, 0) << r.out;
  std::map<std::string, std::vector<std::string>> rows;  // family -> its columns
  std::istringstream lines(r.out);
  std::string header;
  std::getline(lines, header);
  EXPECT_EQ(header.rfind("family", 0), 0u);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream cols(line);
    std::vector<std::string> v;
    for (std::string c; cols >> c;) v.push_back(c);
    if (v.size() == 5) rows[v[0]] = v;
  }
  ASSERT_EQ(rows.size(), 16u) << r.out;
  for (const char* truth : {"default", "jobs", "events", "log"}) {
    EXPECT_EQ(rows.at(truth)[1], "truth") << truth;
  }
  for (const char* derived :
       {"snapshots", "dedupe", "jobs_by_org_filter", "eta_history"}) {
    EXPECT_EQ(rows.at(derived)[1], "derived") << derived;
  }
  EXPECT_GT(std::stoull(rows.at("events")[2]), 0u);
  EXPECT_GT(std::stoull(rows.at("events")[4]), 0u);
  // RocksDB's estimate is exact for a family never deleted from (the listing
  // indexes, whose entries move, are estimated from entries less deletions).
  EXPECT_EQ(std::stoull(rows.at("jobs")[4]), 20u);
  EXPECT_NE(r.out.find("\nwrite-ahead log"), std::string::npos);
  EXPECT_NE(r.out.find("which `jobctl replay` rebuilds"), std::string::npos);
}

TEST_F(JobctlTest, KeysAddListRevoke) {
  const std::string keys = "--keys-file " + dir_.Sub("keys.json");
  Ran added = Jobctl(Flags() + " keys " + keys + " add --name w7 --org acme --scopes events:write,jobs:read");
  ASSERT_EQ(added.code, 0);
  EXPECT_EQ(added.out.substr(0, 4), "jsk_");
  Ran listed = Jobctl(Flags() + " keys " + keys + " list");
  EXPECT_NE(listed.out.find("w7\torg=acme\tscopes=events:write,jobs:read"), std::string::npos)
      << listed.out;
  EXPECT_EQ(listed.out.find("jsk_"), std::string::npos);  // secrets are never listed
  EXPECT_EQ(Jobctl(Flags() + " keys " + keys + " add --name w7 --org acme --scopes jobs:read").code, 1);
  EXPECT_EQ(Jobctl(Flags() + " keys " + keys + " add --name x --org acme --scopes root").code, 1);
  EXPECT_EQ(Jobctl(Flags() + " keys " + keys + " revoke --name w7").code, 0);
  EXPECT_EQ(Jobctl(Flags() + " keys " + keys + " revoke --name w7").code, 1);
  EXPECT_EQ(Jobctl(Flags() + " keys " + keys + " list").out, "");
}

}  // namespace
}  // namespace jobstate::testing
