#include "api/operations.h"

#include "api/metrics.h"

namespace jobstate::api {

Operations::Operations(engine::JobStore& store, const engine::Clock& clock, Metrics* metrics)
    : store_(store), clock_(clock), metrics_(metrics) {}

Operations::~Operations() {
  stop_.store(true);
  if (worker_.joinable()) worker_.join();
}

Result<Operations::View> Operations::StartBackup(std::string dir) {
  View v;
  v.kind = "backup";
  v.dir = std::move(dir);
  return Start(std::move(v));
}

Result<Operations::View> Operations::StartVerify(
    std::optional<std::pair<std::string, std::string>> job) {
  View v;
  v.kind = "verify";
  v.job = std::move(job);
  return Start(std::move(v));
}

Result<Operations::View> Operations::Start(View view) {
  std::unique_lock lock(mu_);
  if (running_) {
    return Err(Status::FailedPrecondition(
        "operation_running", "another operation is running; ask again when it has finished"));
  }
  running_ = true;
  view.id = next_id_++;
  view.state = "running";
  view.started_at = clock_.NowMillis();
  views_[view.id] = view;
  while (views_.size() > 100) views_.erase(views_.begin());
  if (worker_.joinable()) worker_.join();  // the previous one has finished
  worker_ = std::thread([this, id = view.id] { Run(id); });
  return view;
}

void Operations::Run(uint64_t id) {
  View v;
  {
    std::scoped_lock lock(mu_);
    v = views_.at(id);
  }
  if (v.kind == "backup") {
    Finish(id, store_.Backup(v.dir));
    return;
  }
  engine::VerifyOptions options;
  options.job = v.job;
  options.stop = &stop_;
  options.progress = [&](uint64_t done, uint64_t total) {
    if (metrics_) metrics_->SetVerifyProgress(done, total);
    std::scoped_lock lock(mu_);
    if (auto it = views_.find(id); it != views_.end()) {
      it->second.done = done;
      it->second.total = total;
    }
  };
  if (metrics_) metrics_->VerifyStarted();
  auto report = store_.Verify(options);
  // A verification that failed found nothing it could report.
  if (metrics_) metrics_->VerifyEnded(report ? report->differences.size() : 0);
  if (report) {
    std::scoped_lock lock(mu_);
    if (auto it = views_.find(id); it != views_.end()) {
      it->second.jobs = report->jobs;
      it->second.events = report->events;
      it->second.differences = std::move(report->differences);
    }
  }
  Finish(id, report ? Status::OK() : report.error());
}

void Operations::Finish(uint64_t id, const Status& s) {
  std::scoped_lock lock(mu_);
  running_ = false;
  auto it = views_.find(id);
  if (it == views_.end()) return;
  it->second.finished_at = clock_.NowMillis();
  it->second.state = s.ok() ? "succeeded" : "failed";
  if (!s.ok()) it->second.error = s.message();
}

std::optional<Operations::View> Operations::Get(uint64_t id) const {
  std::scoped_lock lock(mu_);
  auto it = views_.find(id);
  if (it == views_.end()) return std::nullopt;
  return it->second;
}

}  // namespace jobstate::api
