// Crash test: a child process commits batches in a loop and reports each acknowledged
// batch on a pipe; the test kills it with SIGKILL at random moments, reopens the data
// dir, and checks that every acknowledged event is there, that the log is whole (no
// gap, no half-written batch), and that every snapshot equals a fresh fold of its
// job's events.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/storage/refold.h"
#include "tests/support/fake_clock.h"
#include "tests/support/job_scenario.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace jobstate::testing {
namespace {

struct Ack {
  std::string job_id;
  uint64_t version, position;
  std::string event_id;
};

// Starts the writer with its stdout on a pipe; returns its pid and the read end.
std::pair<pid_t, int> SpawnWriter(const std::string& dir, int round, uint64_t seed) {
  int fds[2];
  if (pipe(fds) != 0) return {-1, -1};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string r = std::to_string(round), s = std::to_string(seed);
    execl(JOBSTATE_CRASH_WRITER, "crash_writer", dir.c_str(), r.c_str(), s.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::vector<Ack> ParseAcks(const std::string& text) {
  std::vector<Ack> acks;
  std::istringstream in(text.substr(0, text.rfind('\n') + 1));  // drop a cut-off line
  Ack a;
  while (in >> a.job_id >> a.version >> a.position >> a.event_id) acks.push_back(a);
  return acks;
}

TEST(CrashTest, AcknowledgedEventsSurviveSigkill) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  std::mt19937_64 rng(4242);
  FakeClock clock(kT0);
  size_t total_acks = 0;
  std::set<std::string> jobs;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    auto [pid, fd] = SpawnWriter(data, round, rng());
    ASSERT_GT(pid, 0);
    std::string output;
    std::thread reader([&, fd = fd] { output = ReadAll(fd); });
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<>(150, 600)(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    reader.join();
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer exited on its own: " << status;
    const std::vector<Ack> acks = ParseAcks(output);
    total_acks += acks.size();

    storage::StoreOptions options;
    options.path = data;
    auto store = storage::Store::Open(options, clock);
    ASSERT_THAT(store, IsOk());
    // Every acknowledged event is stored where its acknowledgement said.
    for (const Ack& a : acks) {
      auto events = (*store)->ReadJobEvents("acme", a.job_id, a.version, 1);
      ASSERT_THAT(events, IsOk()) << a.job_id;
      ASSERT_EQ(events->size(), 1u) << a.job_id << " v" << a.version << " lost";
      EXPECT_EQ((*events)[0].position, a.position);
      EXPECT_EQ((*events)[0].event.event_id, a.event_id);
      jobs.insert(a.job_id);
    }
    // The log is whole: positions 1..last, each pointing at a stored event.
    const uint64_t last = (*store)->last_position();
    if (!acks.empty()) {
      EXPECT_GE(last, acks.back().position);
    }
    uint64_t expected = 1;
    for (uint64_t after = 0; after < last;) {
      auto page = (*store)->ReadLog(after, 5000);
      ASSERT_THAT(page, IsOk());
      ASSERT_FALSE(page->empty());
      for (const auto& entry : *page) {
        ASSERT_EQ(entry.record.position, expected++);
        jobs.insert(entry.record.event.job_id);
      }
      after = page->back().record.position;
    }
    // Every snapshot and file row equals a fresh fold of its events.
    for (const std::string& job : jobs) {
      ASSERT_EQ(CompareWithRefold(**store, "acme", job), "") << "round " << round;
    }
  }
  EXPECT_GT(total_acks, 1000u) << "the writer committed too little to test anything";
}

}  // namespace
}  // namespace jobstate::testing
