#pragma once
// RandomJob: a seeded generator of valid event sequences for one job.
//
// It keeps its own model of the job and file state machines (independent of the
// engine's projector) and only emits events that model accepts, so a rejection by the
// engine is a disagreement worth a failing test. Jobs discover files in small
// batches, move them through the stages, retry, skip, cancel single files, and end by
// completing, failing or being cancelled, after which processing files may settle.

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/event.h"
#include "tests/support/job_scenario.h"

namespace jobstate::testing {

class RandomJob {
 public:
  RandomJob(std::string job_id, uint64_t seed, engine::Millis start = kT0);

  // The next valid event, or nullopt once the job is final and nothing is left to settle.
  std::optional<engine::Event> Next();
  const std::string& job_id() const { return scenario_.job_id(); }

 private:
  enum class Phase { kNew, kPending, kRunning, kFinalNoSettle, kFinalSettle };
  engine::Event StartFile();
  engine::Event EndFile(size_t i);
  std::optional<size_t> Pick(engine::FileStatus s);
  bool Chance(double p) { return std::uniform_real_distribution<>(0, 1)(rng_) < p; }
  engine::Event FinishJob();

  JobScenario scenario_;
  std::mt19937_64 rng_;
  Phase phase_ = Phase::kNew;
  int current_stage_ = -1;
  std::vector<bool> stage_open_ = std::vector<bool>(engine::kStageCount, false);
  bool scan_complete_ = false;
  std::vector<std::pair<std::string, engine::FileStatus>> files_;
  int next_file_ = 0;
};

}  // namespace jobstate::testing
