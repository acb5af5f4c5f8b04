#pragma once
// Operations: the admin work that cannot wait for a stop (a consistent backup, a
// verification of one job or all), run one at a time on a thread of its own and
// reported by id with progress (GET /v2/admin/operations/{id}).
//
// Thread safety: safe for concurrent use.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/clock.h"
#include "engine/job_store.h"

namespace jobstate::api {

class Metrics;

class Operations {
 public:
  struct View {
    uint64_t id = 0;
    std::string kind;   // "backup" or "verify"
    std::string state;  // "running", "succeeded", "failed"
    engine::Millis started_at = 0;
    std::optional<engine::Millis> finished_at;
    uint64_t done = 0, total = 0;  // verify: jobs
    std::string dir;               // backup: where to
    std::optional<std::pair<std::string, std::string>> job;  // verify: one job
    std::string error;             // failed: why
    uint64_t jobs = 0, events = 0; // verify: checked
    std::vector<engine::VerifyDifference> differences;
  };

  // `store`, `clock` and `metrics` (may be null) must outlive this.
  Operations(engine::JobStore& store, const engine::Clock& clock, Metrics* metrics);
  // Stops a running verification and waits for the running operation.
  ~Operations();

  // FailedPrecondition ("operation_running") while another operation runs.
  Result<View> StartBackup(std::string dir);
  Result<View> StartVerify(std::optional<std::pair<std::string, std::string>> job);
  std::optional<View> Get(uint64_t id) const;

 private:
  Result<View> Start(View view);
  void Run(uint64_t id);
  void Finish(uint64_t id, const Status& s);

  engine::JobStore& store_;
  const engine::Clock& clock_;
  Metrics* const metrics_;
  std::atomic<bool> stop_{false};

  mutable std::mutex mu_;
  std::map<uint64_t, View> views_;  // Guarded by mu_; the last 100
  uint64_t next_id_ = 1;            // Guarded by mu_
  bool running_ = false;            // Guarded by mu_
  std::thread worker_;              // the last operation's thread
};

}  // namespace jobstate::api
