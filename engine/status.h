#pragma once
// Status and Result<T>: how every Jobstate module reports failure.
//
// A Status is either OK or carries a code (a subset of Abseil's canonical codes), a
// message for people, and the specifics an API client needs to act on the error: a
// stable snake_case `reason` (`invalid_transition`, `version_conflict`, ...), the JSON
// pointer of the offending field, the index of the offending event in its batch, and
// the job's current version or status where they matter.
//
// Thread safety: a Status is a value; distinct objects may be used concurrently.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace jobstate {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // malformed input (400)
  kNotFound,            // the job or file does not exist (404)
  kAlreadyExists,       // duplicate identity: a file uri already in the job (409)
  kFailedPrecondition,  // an illegal state transition (409)
  kAborted,             // an optimistic-concurrency or idempotency conflict (409)
  kResourceExhausted,   // the commit queue is full; retry later (429)
  kUnavailable,         // storage not writable, shutting down, data dir in use (503)
  kCorruption,          // a stored record failed its checksum or did not decode
  kInternal,            // a bug
};

std::string_view StatusCodeName(StatusCode code);

// What an API error body carries beyond the code and message. Every member is optional.
struct ErrorDetails {
  std::string reason;                     // stable snake_case word, e.g. "job_final"
  std::string pointer;                    // JSON pointer of the offending field
  std::optional<int64_t> event_index;     // index of the offending event in its batch
  std::optional<uint64_t> current_version;
  std::string job_status;                 // for job_final
  std::string from_state, to_state;       // for invalid_transition
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string reason, std::string msg);
  static Status NotFound(std::string reason, std::string msg);
  static Status AlreadyExists(std::string reason, std::string msg);
  static Status FailedPrecondition(std::string reason, std::string msg);
  static Status Aborted(std::string reason, std::string msg);
  static Status ResourceExhausted(std::string msg);
  static Status Unavailable(std::string msg);
  static Status Corruption(std::string msg);
  static Status Internal(std::string msg);

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // The message for people; empty when OK.
  const std::string& message() const;
  // The specifics; all empty when OK.
  const ErrorDetails& details() const;
  // Mutable specifics, for the layer that knows them (e.g. the batch index).
  // REQUIRES: !ok().
  ErrorDetails& mutable_details();

  // Builder-style helpers, each returning *this. REQUIRES: !ok().
  Status& WithPointer(std::string pointer);
  // Prefixes the pointer (e.g. "/events/3") and records the event index.
  Status& AtEvent(int64_t index, std::string_view pointer_prefix);

  // "FailedPrecondition: invalid_transition: file a.pdf: processing -> processing".
  std::string ToString() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    ErrorDetails details;
  };
  Status(StatusCode code, std::string reason, std::string msg);

  std::unique_ptr<Rep> rep_;  // null when OK
};

template <class T>
using Result = tl::expected<T, Status>;

// Converts an error Status into the unexpected branch of a Result.
inline tl::unexpected<Status> Err(Status s) { return tl::make_unexpected(std::move(s)); }

}  // namespace jobstate
