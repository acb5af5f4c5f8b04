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

// One entry of the global log.
struct LogEntry {
  std::string org;
  RecordedEvent record;
};

}  // namespace jobstate::engine
