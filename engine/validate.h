#pragma once
// Validation of one event's envelope and payload, independent of any job's state.
//
// The api layer has already checked JSON types and required members; this checks the
// values: identifiers, lengths, ranges and enum-free invariants, and lower-cases the
// event_id. Errors are InvalidArgument with reason "invalid_event" and a JSON pointer
// relative to the event ("/data/files/0/uri"); the batch layer prefixes "/events/N".
//
// Limits the spec leaves open are constants here and in docs/events.md.

#include "engine/event.h"
#include "engine/status.h"

namespace jobstate::engine {

struct Limits {
  static constexpr size_t kMaxJobId = 128;
  static constexpr size_t kMaxWorkerId = 128;
  static constexpr size_t kMaxUri = 2048;
  static constexpr size_t kMaxFilesPerEvent = 1000;
  static constexpr size_t kMaxJobProgressMessage = 1024;
  static constexpr size_t kMaxShortText = 256;     // names of collections, content types,
                                                   // error codes, currencies, worker ids
  static constexpr size_t kMaxLongText = 4096;     // messages, reasons, file names
  static constexpr size_t kMaxJsonText = 64 * 1024;  // metadata, result, unknown data
  static constexpr size_t kMaxWorkerIds = 10'000;
};

// Checks `e` and lower-cases its event_id. Returns OK or InvalidArgument
// ("invalid_event", pointer set).
Status ValidateEvent(Event& e);

// True when `s` is 8-4-4-4-12 hexadecimal digits (either case).
bool IsUuid(std::string_view s);
// True when `s` is 1 to 128 characters of A-Z a-z 0-9 _ - . :
bool IsJobId(std::string_view s);

}  // namespace jobstate::engine
