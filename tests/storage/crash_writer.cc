// The child of the crash test: commits random valid batches to a data dir as fast as
// it can, with sync durability, and after each acknowledgement writes one line per
// event to stdout ("job_id version position event_id"). It runs until killed.
//
//   crash_writer DATA_DIR ROUND SEED
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "storage/store.h"
#include "tests/support/random_job.h"

using namespace jobstate;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: crash_writer DATA_DIR ROUND SEED\n");
    return 2;
  }
  const std::string round = argv[2];
  const uint64_t seed = std::stoull(argv[3]);
  engine::SystemClock clock;
  storage::StoreOptions options;
  options.path = argv[1];
  auto store = storage::Store::Open(options, clock);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().ToString().c_str());
    return 1;
  }
  std::mt19937_64 rng(seed);
  std::vector<testing::RandomJob> jobs;
  const engine::Millis start = clock.NowMillis() - 3'600'000;
  for (int i = 0; i < 16; ++i) {
    jobs.emplace_back("r" + round + "-job-" + std::to_string(i), seed * 100 + i, start);
  }
  for (uint64_t n = 0;; ++n) {
    std::vector<engine::Event> batch;
    const int k = std::uniform_int_distribution<>(1, 40)(rng);
    for (int e = 0; e < k; ++e) {
      auto& job = jobs[std::uniform_int_distribution<size_t>(0, jobs.size() - 1)(rng)];
      auto next = job.Next();
      if (!next) {  // that job is over: start another in its place
        job = testing::RandomJob("r" + round + "-job-x" + std::to_string(n) + "-" +
                                     std::to_string(e),
                                 seed * 7919 + n * 131 + e, start);
        next = job.Next();
      }
      batch.push_back(std::move(*next));
    }
    auto r = (*store)->Append(engine::AppendRequest{"acme", "crash", std::move(batch), {}});
    if (!r) {
      std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
      return 1;
    }
    std::string lines;
    for (const auto& a : r->results) {
      lines += a.job_id + " " + std::to_string(a.version) + " " + std::to_string(a.position) +
               " " + a.event_id + "\n";
    }
    // One write per batch: the parent ignores a line the kill cut short.
    if (write(STDOUT_FILENO, lines.data(), lines.size()) < 0) return 1;
  }
}
