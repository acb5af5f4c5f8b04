#pragma once
// Shapes of the reads the storage answers.
//
// Thread safety: plain values.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/event.h"
#include "engine/state.h"

namespace jobstate::engine {

// A page of a job's files in discovery (ordinal) order.
struct FileQuery {
  std::optional<uint64_t> after_ordinal;  // resume after this ordinal; none = from the start
  size_t limit = 50;
  std::vector<FileStatus> statuses;       // empty = every status
};

struct FilePage {
  JobSnapshot job;  // the job as of the same read, so status and page agree
  std::vector<FileRow> rows;
  bool has_more = false;
  int64_t total_matching = 0;  // files matching the filter, from the snapshot's counts
};

// Time travel: the job as it stood after its first `version` events, or after the
// events recorded at or before `instant`. Exactly one is set.
struct AsOf {
  std::optional<uint64_t> version;
  std::optional<Millis> instant;
};

// A job read as of a point in its past, with the instant its time-dependent fields are
// evaluated at (the N-th event's recorded_at, or the instant asked for).
struct HistoricalPage {
  FilePage page;
  Millis at = 0;
};

// What one committed group changed: the jobs whose streams grew (each with its new
// version) and the log's new end. Handed to StoreOptions::on_commit.
struct CommitNotice {
  struct Job {
    std::string org;
    std::string job_id;
    uint64_t version = 0;
  };
  std::vector<Job> jobs;
  uint64_t last_position = 0;
};

// One entry of the global log.
struct LogEntry {
  std::string org;
  RecordedEvent record;
};

}  // namespace jobstate::engine
