#pragma once
// JobScenario: builds the events of one job the way workers send them, with
// deterministic event ids and an advancing clock, so tests read like a job's story:
//
//   JobScenario job("job-1");
//   Fold({job.Created(), job.Started(), job.Discovered({"s3://b/a.pdf"})});

#include <initializer_list>
#include <string>
#include <vector>

#include "engine/event.h"

namespace jobstate::testing {

// 2026-11-29T00:00:00Z
inline constexpr engine::Millis kT0 = 1'795'910'400'000;

// A deterministic UUID from a number (not a real v4 UUID, but of the same form).
std::string TestUuid(uint64_t n, uint64_t salt = 0);

class JobScenario {
 public:
  explicit JobScenario(std::string job_id, engine::Millis start = kT0, uint64_t salt = 0);

  const std::string& job_id() const { return job_id_; }
  engine::Millis now() const { return now_; }
  // Moves the scenario's clock forward; each event also advances it by 1 ms.
  void Advance(engine::Millis ms) { now_ += ms; }

  engine::Event Make(engine::Payload data);  // any payload, next id and instant

  engine::Event Created(engine::PipelineMode mode = engine::PipelineMode::kPipelined,
                        std::string collection = "docs",
                        engine::JobType job_type = engine::JobType::kIndexS3);
  engine::Event Started();
  engine::Event StageStarted(engine::Stage s);
  engine::Event StageCompleted(engine::Stage s);
  engine::Event Discovered(std::initializer_list<std::string> uris, int64_t size = 100);
  engine::Event Discovered(const std::vector<std::string>& uris, int64_t size = 100);
  engine::Event FileStarted(const std::string& uri);
  engine::Event FileProgress(const std::string& uri, engine::Stage s);  // enters stage s
  engine::Event FileStageDone(const std::string& uri, engine::Stage s);  // finishes it
  engine::Event FileCompleted(const std::string& uri, int64_t pages = 1);
  engine::Event FileFailed(const std::string& uri);
  engine::Event FileSkipped(const std::string& uri);
  engine::Event FileRetried(const std::string& uri);
  engine::Event FileCancelled(const std::string& uri);
  engine::Event Progress(const std::string& message);
  engine::Event Workers(int64_t count);
  engine::Event Completed();
  engine::Event Failed();
  engine::Event Cancelled();

 private:
  std::string job_id_;
  engine::Millis now_;
  uint64_t salt_;
  uint64_t next_id_ = 1;
};

}  // namespace jobstate::testing
