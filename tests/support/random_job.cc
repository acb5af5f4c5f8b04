#include "tests/support/random_job.h"

namespace jobstate::testing {

using engine::Event;
using engine::FileStatus;
using engine::Stage;

RandomJob::RandomJob(std::string job_id, uint64_t seed, engine::Millis start)
    : scenario_(std::move(job_id), start, seed), rng_(seed) {}

std::optional<size_t> RandomJob::Pick(FileStatus s) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < files_.size(); ++i) {
    if (files_[i].second == s) candidates.push_back(i);
  }
  if (candidates.empty()) return std::nullopt;
  return candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng_)];
}

Event RandomJob::EndFile(size_t i) {
  auto& [uri, status] = files_[i];
  const int roll = std::uniform_int_distribution<>(0, 9)(rng_);
  if (roll < 6) {
    status = FileStatus::kCompleted;
    return scenario_.FileCompleted(uri, roll);
  }
  if (roll < 8) {
    status = FileStatus::kFailed;
    return scenario_.FileFailed(uri);
  }
  status = FileStatus::kSkipped;
  return scenario_.FileSkipped(uri);
}

Event RandomJob::FinishJob() {
  const int roll = std::uniform_int_distribution<>(0, 9)(rng_);
  const bool unfinished = Pick(FileStatus::kQueued) || Pick(FileStatus::kProcessing);
  const bool settle = Pick(FileStatus::kProcessing).has_value();
  for (auto& [uri, status] : files_) {
    if (roll >= 6 && status == FileStatus::kQueued) status = FileStatus::kCancelled;
  }
  if (roll < 6 && !unfinished) {
    phase_ = Phase::kFinalNoSettle;
    return scenario_.Completed();
  }
  phase_ = settle ? Phase::kFinalSettle : Phase::kFinalNoSettle;
  if (roll < 6) {
    // Could not complete with unfinished files: fail instead.
    for (auto& [uri, status] : files_) {
      if (status == FileStatus::kQueued) status = FileStatus::kCancelled;
    }
    return scenario_.Failed();
  }
  return roll < 8 ? scenario_.Failed() : scenario_.Cancelled();
}

std::optional<Event> RandomJob::Next() {
  scenario_.Advance(std::uniform_int_distribution<>(0, 2000)(rng_));
  switch (phase_) {
    case Phase::kNew: {
      phase_ = Phase::kPending;
      // A few collections and job types, so the listing's filters have something to
      // tell apart; "docs" and "docs2" differ only at the end.
      const auto mode =
          Chance(0.2) ? engine::PipelineMode::kStaged : engine::PipelineMode::kPipelined;
      static const char* const kCollections[] = {"docs", "docs2", "mail"};
      static constexpr engine::JobType kTypes[] = {engine::JobType::kIndexS3,
                                                   engine::JobType::kIndexGcsFile,
                                                   engine::JobType::kIndexR2Directory};
      std::uniform_int_distribution<size_t> pick(0, 2);
      const char* collection = kCollections[pick(rng_)];
      return scenario_.Created(mode, collection, kTypes[pick(rng_)]);
    }
    case Phase::kFinalNoSettle:
      return std::nullopt;
    case Phase::kFinalSettle: {
      auto i = Pick(FileStatus::kProcessing);
      if (!i || Chance(0.3)) return std::nullopt;
      return EndFile(*i);
    }
    case Phase::kPending:
    case Phase::kRunning:
      break;
  }
  for (;;) {
    const int action = std::uniform_int_distribution<>(0, 99)(rng_);
    if (action < 3 && phase_ == Phase::kPending) {
      phase_ = Phase::kRunning;
      return scenario_.Started();
    }
    if (action < 8 && current_stage_ < engine::kStageCount - 1) {
      const int s = std::uniform_int_distribution<>(current_stage_ + 1,
                                                    std::min(current_stage_ + 2, 5))(rng_);
      if (s == 5) {
        for (int k = 0; k < s; ++k) stage_open_[k] = false;
      }
      current_stage_ = s;
      stage_open_[s] = true;
      phase_ = Phase::kRunning;
      return scenario_.StageStarted(static_cast<Stage>(s));
    }
    if (action < 11) {
      for (int s = 0; s <= current_stage_; ++s) {
        if (!stage_open_[s]) continue;
        stage_open_[s] = false;
        if (s == 0) scan_complete_ = true;
        return scenario_.StageCompleted(static_cast<Stage>(s));
      }
    }
    if (action < 25 && !scan_complete_) {
      std::vector<std::string> uris;
      const int n = std::uniform_int_distribution<>(1, 6)(rng_);
      for (int k = 0; k < n; ++k) {
        uris.push_back("s3://bucket/" + job_id() + "/f" + std::to_string(next_file_++));
        files_.emplace_back(uris.back(), FileStatus::kQueued);
      }
      return scenario_.Discovered(uris, std::uniform_int_distribution<>(0, 1 << 20)(rng_));
    }
    if (action < 45) {
      if (auto i = Pick(FileStatus::kQueued)) {
        files_[*i].second = FileStatus::kProcessing;
        return scenario_.FileStarted(files_[*i].first);
      }
    }
    if (action < 60) {
      if (auto i = Pick(FileStatus::kProcessing)) {
        return scenario_.FileProgress(
            files_[*i].first, static_cast<Stage>(std::uniform_int_distribution<>(1, 5)(rng_)));
      }
    }
    if (action < 80) {
      if (auto i = Pick(FileStatus::kProcessing)) return EndFile(*i);
    }
    if (action < 84) {
      if (auto i = Pick(FileStatus::kFailed)) {
        files_[*i].second = FileStatus::kQueued;
        return scenario_.FileRetried(files_[*i].first);
      }
    }
    if (action < 86) {
      if (auto i = Pick(Chance(0.5) ? FileStatus::kQueued : FileStatus::kProcessing)) {
        files_[*i].second = FileStatus::kCancelled;
        return scenario_.FileCancelled(files_[*i].first);
      }
    }
    if (action < 88) {
      if (auto i = Pick(FileStatus::kQueued)) {
        files_[*i].second = FileStatus::kSkipped;
        return scenario_.FileSkipped(files_[*i].first);
      }
    }
    if (action < 90) return scenario_.Progress("step " + std::to_string(action));
    if (action < 92) return scenario_.Workers(std::uniform_int_distribution<>(0, 8)(rng_));
    if (action < 95) {
      // Ending is likelier once the files are done.
      const bool done = !Pick(FileStatus::kQueued) && !Pick(FileStatus::kProcessing);
      if (done || Chance(0.25)) return FinishJob();
    }
  }
}

}  // namespace jobstate::testing
