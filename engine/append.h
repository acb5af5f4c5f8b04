#pragma once
// What a caller asks of the commit path and what it answers.
//
// Thread safety: plain values.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/event.h"

namespace jobstate::engine {

// One batch: validated, folded and committed all or nothing.
struct AppendRequest {
  std::string org;    // the organisation of the appending API key; owns new jobs
  std::string actor;  // the appending key's name; written into job.cancelled when the
                      // event names no `cancelled_by`
  std::vector<Event> events;
  // Import (jobctl import): each event's coordinates as exported, parallel to `events`;
  // empty for a live append. The event keeps `recorded_at` (which may not go back
  // within its job) and, when `version` is given, must land at that version.
  struct Imported {
    Millis recorded_at = 0;
    std::optional<uint64_t> version;
  };
  std::vector<Imported> imported;
};

// The acknowledgement of one event, in request order.
struct AppendedEvent {
  std::string event_id;
  std::string job_id;
  uint64_t version = 0;
  uint64_t position = 0;
  Millis recorded_at = 0;
  bool duplicate = false;  // already stored: these are the original coordinates
};

struct AppendResult {
  int64_t appended = 0;
  int64_t duplicates = 0;
  std::vector<AppendedEvent> results;
};

}  // namespace jobstate::engine
