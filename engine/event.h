#pragma once
// The events of EVENTS.md as typed C++ values.
//
// An Event is the envelope a worker sent (event_id, job_id, type, occurred_at, ...)
// with its payload as one alternative of `Payload`. JSON lives in api/: values the
// fold never interprets (a job's `metadata`, the further members of a `result`, the
// members of `data` this version does not know) travel here as opaque JSON text so
// history can return them as they were sent.
//
// Persistence: each struct has a cereal serialize() with a class version. The order of
// Payload's alternatives is the persisted type id (EventType - 1): append new types at
// the end, never reorder or reuse one.
//
// Thread safety: plain values.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include "engine/types.h"

namespace jobstate::engine {

enum class EventType : uint8_t {
  kJobCreated = 1,
  kJobStarted = 2,
  kStageStarted = 3,
  kStageCompleted = 4,
  kFilesDiscovered = 5,
  kFileStarted = 6,
  kFileProgress = 7,
  kFileCompleted = 8,
  kFileFailed = 9,
  kFileSkipped = 10,
  kFileRetried = 11,
  kFileCancelled = 12,
  kJobProgress = 13,
  kJobWorkers = 14,
  kJobCompleted = 15,
  kJobFailed = 16,
  kJobCancelled = 17,
};

std::string_view Name(EventType t);  // "job.created", ...
std::optional<EventType> ParseEventType(std::string_view s);

// The final event's `result`: `warnings` is typed because the status returns it; every
// other member is kept verbatim as the text of a JSON object ("{...}" or empty).
struct ResultData {
  std::vector<std::string> warnings;
  std::string extra_json;
  bool operator==(const ResultData&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(warnings, extra_json); }
};

struct Money {
  double amount = 0;
  std::string currency;
  bool operator==(const Money&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(amount, currency); }
};

// API.md `billing`, as carried by job.completed. Optional members are derived at read
// time when the event leaves them out.
struct Billing {
  Money cost;
  std::optional<double> credits_used;
  double credits_remaining = 0;
  double rate_per_credit = 0;
  std::string rate_currency;
  std::optional<ProcessingType> processing_type;
  std::optional<int64_t> pages_processed;
  bool operator==(const Billing&) const = default;
  template <class A> void serialize(A& ar, uint32_t) {
    ar(cost, credits_used, credits_remaining, rate_per_credit, rate_currency,
       processing_type, pages_processed);
  }
};

struct DiscoveredFile {
  std::string uri;
  std::optional<std::string> name;
  std::optional<int64_t> size_bytes;
  std::optional<std::string> content_type;
  bool operator==(const DiscoveredFile&) const = default;
  template <class A> void serialize(A& ar, uint32_t) {
    ar(uri, name, size_bytes, content_type);
  }
};

struct JobCreated {
  std::string collection_name;
  JobType job_type = JobType::kIndexS3;
  std::optional<ProcessingType> processing_type;
  PipelineMode pipeline_mode = PipelineMode::kPipelined;
  std::optional<int64_t> files_expected;
  std::optional<std::string> metadata_json;  // text of a JSON object
  bool operator==(const JobCreated&) const = default;
  template <class A> void serialize(A& ar, uint32_t) {
    ar(collection_name, job_type, processing_type, pipeline_mode, files_expected,
       metadata_json);
  }
};

struct JobStarted {
  bool operator==(const JobStarted&) const = default;
  template <class A> void serialize(A&, uint32_t) {}
};

struct StageStarted {
  Stage stage = Stage::kScanning;
  bool operator==(const StageStarted&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(stage); }
};

struct StageCompleted {
  Stage stage = Stage::kScanning;
  bool operator==(const StageCompleted&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(stage); }
};

struct FilesDiscovered {
  std::vector<DiscoveredFile> files;
  bool operator==(const FilesDiscovered&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(files); }
};

struct FileStarted {
  std::string uri;
  std::optional<Stage> stage;
  bool operator==(const FileStarted&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(uri, stage); }
};

struct FileProgress {
  std::string uri;
  Stage stage = Stage::kScanning;
  FilePhase phase = FilePhase::kStarted;
  std::optional<std::string> message;
  bool operator==(const FileProgress&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(uri, stage, phase, message); }
};

struct FileCompleted {
  std::string uri;
  std::optional<int64_t> chunks, tokens, pages;
  bool operator==(const FileCompleted&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(uri, chunks, tokens, pages); }
};

struct FileFailed {
  std::string uri;
  std::string error_code;
  std::string error_message;
  std::optional<bool> retryable;
  std::optional<Stage> stage;
  bool operator==(const FileFailed&) const = default;
  template <class A> void serialize(A& ar, uint32_t) {
    ar(uri, error_code, error_message, retryable, stage);
  }
};

struct FileSkipped {
  std::string uri;
  std::optional<std::string> reason;
  bool operator==(const FileSkipped&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(uri, reason); }
};

struct FileRetried {
  std::string uri;
  bool operator==(const FileRetried&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(uri); }
};

struct FileCancelled {
  std::string uri;
  std::optional<std::string> reason;
  bool operator==(const FileCancelled&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(uri, reason); }
};

struct JobProgress {
  std::string message;
  bool operator==(const JobProgress&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(message); }
};

struct JobWorkers {
  int64_t count = 0;
  std::optional<std::vector<std::string>> worker_ids;
  bool operator==(const JobWorkers&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(count, worker_ids); }
};

struct JobCompleted {
  std::optional<ResultData> result;
  std::optional<Billing> billing;
  bool operator==(const JobCompleted&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(result, billing); }
};

struct JobFailed {
  std::string error_code;
  std::string error_message;
  std::optional<ResultData> result;
  bool operator==(const JobFailed&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(error_code, error_message, result); }
};

struct JobCancelled {
  std::optional<std::string> cancelled_by;
  std::optional<std::string> reason;
  bool operator==(const JobCancelled&) const = default;
  template <class A> void serialize(A& ar, uint32_t) { ar(cancelled_by, reason); }
};

// Alternative i is EventType(i + 1).
using Payload = std::variant<JobCreated, JobStarted, StageStarted, StageCompleted,
                             FilesDiscovered, FileStarted, FileProgress, FileCompleted,
                             FileFailed, FileSkipped, FileRetried, FileCancelled,
                             JobProgress, JobWorkers, JobCompleted, JobFailed,
                             JobCancelled>;

struct Event {
  std::string event_id;  // UUID text; lower-case once validated
  std::string job_id;
  Millis occurred_at = 0;
  std::optional<std::string> worker_id;
  std::optional<uint64_t> expected_version;  // a precondition, not part of the content
  Payload data;
  // Members of `data` this version does not know, as the text of a JSON object, or
  // empty. Kept for history; the fold ignores them.
  std::string extra_data_json;

  EventType type() const { return static_cast<EventType>(data.index() + 1); }
  bool operator==(const Event&) const = default;
  template <class A> void serialize(A& ar, uint32_t) {
    ar(event_id, job_id, occurred_at, worker_id, expected_version, data, extra_data_json);
  }
};

// An event as stored: the engine adds its place in the job's stream and in the log.
struct RecordedEvent {
  Event event;
  uint64_t version = 0;   // 1-based position in the job's stream
  uint64_t position = 0;  // global, strictly increasing
  Millis recorded_at = 0;
  bool operator==(const RecordedEvent&) const = default;
  template <class A> void serialize(A& ar, uint32_t) {
    ar(event, version, position, recorded_at);
  }
};

// The uri an event names, or nullptr for job- and stage-level events (and for
// files.discovered, which names many).
const std::string* FileUri(const Event& e);

}  // namespace jobstate::engine

CEREAL_CLASS_VERSION(jobstate::engine::ResultData, 1)
CEREAL_CLASS_VERSION(jobstate::engine::Money, 1)
CEREAL_CLASS_VERSION(jobstate::engine::Billing, 1)
CEREAL_CLASS_VERSION(jobstate::engine::DiscoveredFile, 1)
CEREAL_CLASS_VERSION(jobstate::engine::JobCreated, 1)
CEREAL_CLASS_VERSION(jobstate::engine::JobStarted, 1)
CEREAL_CLASS_VERSION(jobstate::engine::StageStarted, 1)
CEREAL_CLASS_VERSION(jobstate::engine::StageCompleted, 1)
CEREAL_CLASS_VERSION(jobstate::engine::FilesDiscovered, 1)
CEREAL_CLASS_VERSION(jobstate::engine::FileStarted, 1)
CEREAL_CLASS_VERSION(jobstate::engine::FileProgress, 1)
CEREAL_CLASS_VERSION(jobstate::engine::FileCompleted, 1)
CEREAL_CLASS_VERSION(jobstate::engine::FileFailed, 1)
CEREAL_CLASS_VERSION(jobstate::engine::FileSkipped, 1)
CEREAL_CLASS_VERSION(jobstate::engine::FileRetried, 1)
CEREAL_CLASS_VERSION(jobstate::engine::FileCancelled, 1)
CEREAL_CLASS_VERSION(jobstate::engine::JobProgress, 1)
CEREAL_CLASS_VERSION(jobstate::engine::JobWorkers, 1)
CEREAL_CLASS_VERSION(jobstate::engine::JobCompleted, 1)
CEREAL_CLASS_VERSION(jobstate::engine::JobFailed, 1)
CEREAL_CLASS_VERSION(jobstate::engine::JobCancelled, 1)
CEREAL_CLASS_VERSION(jobstate::engine::Event, 1)
CEREAL_CLASS_VERSION(jobstate::engine::RecordedEvent, 1)
