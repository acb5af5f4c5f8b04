#pragma once
// Random valid histories committed the way a busy server commits them: rounds of up
// to four concurrent batches (so groups hold several requests), each batch taking up
// to `max_batch` events from each of one to `jobs_per_batch` jobs. Returns the job ids,
// all in organisation "acme".

#include <future>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "storage/store.h"
#include "tests/support/fake_clock.h"
#include "tests/support/random_job.h"
#include "tests/support/status_matchers.h"

namespace jobstate::testing {

inline std::vector<std::string> AppendRandomHistories(storage::Store& store, FakeClock& clock,
                                                      int jobs, uint64_t seed,
                                                      int max_batch = 45,
                                                      int jobs_per_batch = 1) {
  std::mt19937_64 rng(seed);
  std::vector<RandomJob> gen;
  std::vector<std::string> ids;
  for (int i = 0; i < jobs; ++i) {
    gen.emplace_back("job-" + std::to_string(i), seed + static_cast<uint64_t>(i), kT0);
    ids.push_back(gen.back().job_id());
  }
  std::vector<size_t> live(static_cast<size_t>(jobs));
  for (size_t i = 0; i < live.size(); ++i) live[i] = i;
  // The jobs' own instants (from kT0) stay well behind the store's clock.
  engine::Millis now = kT0 + 1000LL * 3'600'000;
  clock.Set(now);
  while (!live.empty()) {
    const int batches = std::uniform_int_distribution<>(1, 4)(rng);
    std::vector<std::future<Result<engine::AppendResult>>> answers;
    for (int b = 0; b < batches && !live.empty(); ++b) {
      std::vector<engine::Event> batch;
      const int in_batch = std::uniform_int_distribution<>(1, jobs_per_batch)(rng);
      for (int j = 0; j < in_batch && !live.empty(); ++j) {
        const size_t k = std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng);
        const int n = std::uniform_int_distribution<>(1, max_batch)(rng);
        for (int e = 0; e < n; ++e) {
          auto next = gen[live[k]].Next();
          if (!next) {
            live[k] = live.back();
            live.pop_back();
            break;
          }
          batch.push_back(std::move(*next));
        }
      }
      if (batch.empty()) continue;
      auto promise = std::make_shared<std::promise<Result<engine::AppendResult>>>();
      answers.push_back(promise->get_future());
      store.Submit(engine::AppendRequest{"acme", "key-1", std::move(batch), {}},
                   [promise](Result<engine::AppendResult> r) { promise->set_value(std::move(r)); });
    }
    for (auto& a : answers) {
      auto r = a.get();
      EXPECT_THAT(r, IsOk()) << (r ? "" : r.error().ToString());
    }
    now += 1000;
    clock.Set(now);
  }
  return ids;
}

}  // namespace jobstate::testing
