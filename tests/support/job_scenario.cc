#include "tests/support/job_scenario.h"

#include <cstdio>
#include <functional>

namespace jobstate::testing {

using namespace engine;

std::string TestUuid(uint64_t n, uint64_t salt) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx",
                static_cast<unsigned>(salt & 0xffffffff),
                static_cast<unsigned>((salt >> 32) & 0xffff),
                static_cast<unsigned>((salt >> 48) & 0xfff), 0u,
                static_cast<unsigned long long>(n & 0xffffffffffffULL));
  return buf;
}

JobScenario::JobScenario(std::string job_id, Millis start, uint64_t salt)
    : job_id_(std::move(job_id)),
      now_(start),
      salt_(salt ^ std::hash<std::string>{}(job_id_)) {}

Event JobScenario::Make(Payload data) {
  Event e;
  e.event_id = TestUuid(next_id_++, salt_);
  e.job_id = job_id_;
  e.occurred_at = now_++;
  e.worker_id = "worker-1";
  e.data = std::move(data);
  return e;
}

Event JobScenario::Created(PipelineMode mode, std::string collection, JobType job_type) {
  JobCreated c;
  c.collection_name = std::move(collection);
  c.job_type = job_type;
  c.pipeline_mode = mode;
  return Make(c);
}
Event JobScenario::Started() { return Make(JobStarted{}); }
Event JobScenario::StageStarted(Stage s) { return Make(engine::StageStarted{s}); }
Event JobScenario::StageCompleted(Stage s) { return Make(engine::StageCompleted{s}); }

Event JobScenario::Discovered(std::initializer_list<std::string> uris, int64_t size) {
  return Discovered(std::vector<std::string>(uris), size);
}
Event JobScenario::Discovered(const std::vector<std::string>& uris, int64_t size) {
  FilesDiscovered d;
  for (const std::string& u : uris) {
    d.files.push_back(DiscoveredFile{u, u.substr(u.rfind('/') + 1), size, "application/pdf"});
  }
  return Make(d);
}
Event JobScenario::FileStarted(const std::string& uri) {
  return Make(engine::FileStarted{uri, Stage::kExtracting});
}
Event JobScenario::FileProgress(const std::string& uri, Stage s) {
  return Make(engine::FileProgress{uri, s, FilePhase::kStarted, "working"});
}
Event JobScenario::FileStageDone(const std::string& uri, Stage s) {
  return Make(engine::FileProgress{uri, s, FilePhase::kCompleted, std::nullopt});
}
Event JobScenario::FileCompleted(const std::string& uri, int64_t pages) {
  return Make(engine::FileCompleted{uri, 3, 300, pages});
}
Event JobScenario::FileFailed(const std::string& uri) {
  return Make(engine::FileFailed{uri, "extract_timeout", "extraction timed out", true,
                                 Stage::kExtracting});
}
Event JobScenario::FileSkipped(const std::string& uri) {
  return Make(engine::FileSkipped{uri, "already_indexed"});
}
Event JobScenario::FileRetried(const std::string& uri) { return Make(engine::FileRetried{uri}); }
Event JobScenario::FileCancelled(const std::string& uri) {
  return Make(engine::FileCancelled{uri, "user asked"});
}
Event JobScenario::Progress(const std::string& message) { return Make(JobProgress{message}); }
Event JobScenario::Workers(int64_t count) { return Make(JobWorkers{count, std::nullopt}); }
Event JobScenario::Completed() { return Make(JobCompleted{}); }
Event JobScenario::Failed() { return Make(JobFailed{"boom", "the job failed", std::nullopt}); }
Event JobScenario::Cancelled() { return Make(JobCancelled{"tester", "not needed"}); }

}  // namespace jobstate::testing
