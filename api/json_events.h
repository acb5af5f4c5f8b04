#pragma once
// JSON <-> engine events (EVENTS.md): the batch body of POST /v2/events in either
// content type, and events as history returns them.
//
// Parsing is strict about the wire contract and names what is wrong with a JSON
// pointer into the request (`/events/3/data/files/0/size_bytes`):
//   400 invalid_event   malformed JSON, wrong types, missing or oversize values,
//                       unknown event types
//   400 unknown_field   a top-level member the envelope does not define
// Members of `data` this version does not know are kept (as JSON text) for history.
//
// Thread safety: free functions.

#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "engine/event.h"
#include "engine/status.h"

namespace jobstate::api {

struct BatchLimits {
  size_t max_events = 10'000;  // Default: 10,000 events a batch
  size_t max_depth = 32;       // Default: JSON nesting depth
};

// `{"events": [...]}` (application/json) or one event per line (application/x-ndjson).
Result<std::vector<engine::Event>> ParseJsonBatch(std::string_view body,
                                                  const BatchLimits& limits);
Result<std::vector<engine::Event>> ParseNdjsonBatch(std::string_view body,
                                                    const BatchLimits& limits);

// One event object; `pointer` locates it in the request for errors ("/events/3").
Result<engine::Event> ParseEvent(const boost::json::value& v, const std::string& pointer);

class JsonWriter;

// An event as history returns it: the envelope as sent (with the members of `data`
// this version does not know, and `cancelled_by` as the engine wrote it) plus
// `version`, `position` and `recorded_at`. Instants come back in UTC with
// milliseconds, whatever offset they were sent with.
void WriteRecordedEvent(JsonWriter& w, const engine::RecordedEvent& e);

}  // namespace jobstate::api
