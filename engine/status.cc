#include "engine/status.h"

#include <cassert>

namespace jobstate {

namespace {
const std::string kEmpty;
const ErrorDetails kNoDetails;
}  // namespace

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kAlreadyExists: return "AlreadyExists";
    case StatusCode::kFailedPrecondition: return "FailedPrecondition";
    case StatusCode::kAborted: return "Aborted";
    case StatusCode::kResourceExhausted: return "ResourceExhausted";
    case StatusCode::kUnavailable: return "Unavailable";
    case StatusCode::kCorruption: return "Corruption";
    case StatusCode::kInternal: return "Internal";
  }
  return "Unknown";
}

Status::Status(StatusCode code, std::string reason, std::string msg)
    : rep_(std::make_unique<Rep>(Rep{code, std::move(msg), {}})) {
  rep_->details.reason = std::move(reason);
}

Status::Status(const Status& other)
    : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}

Status& Status::operator=(const Status& other) {
  if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
  return *this;
}

Status Status::InvalidArgument(std::string reason, std::string msg) {
  return Status(StatusCode::kInvalidArgument, std::move(reason), std::move(msg));
}
Status Status::NotFound(std::string reason, std::string msg) {
  return Status(StatusCode::kNotFound, std::move(reason), std::move(msg));
}
Status Status::AlreadyExists(std::string reason, std::string msg) {
  return Status(StatusCode::kAlreadyExists, std::move(reason), std::move(msg));
}
Status Status::FailedPrecondition(std::string reason, std::string msg) {
  return Status(StatusCode::kFailedPrecondition, std::move(reason), std::move(msg));
}
Status Status::Aborted(std::string reason, std::string msg) {
  return Status(StatusCode::kAborted, std::move(reason), std::move(msg));
}
Status Status::ResourceExhausted(std::string msg) {
  return Status(StatusCode::kResourceExhausted, "queue_full", std::move(msg));
}
Status Status::Unavailable(std::string msg) {
  return Status(StatusCode::kUnavailable, "unavailable", std::move(msg));
}
Status Status::Corruption(std::string msg) {
  return Status(StatusCode::kCorruption, "corruption", std::move(msg));
}
Status Status::Internal(std::string msg) {
  return Status(StatusCode::kInternal, "internal", std::move(msg));
}

const std::string& Status::message() const { return rep_ ? rep_->message : kEmpty; }
const ErrorDetails& Status::details() const { return rep_ ? rep_->details : kNoDetails; }

ErrorDetails& Status::mutable_details() {
  assert(rep_ != nullptr && "details of an OK status");
  return rep_->details;
}

Status& Status::WithPointer(std::string pointer) {
  mutable_details().pointer = std::move(pointer);
  return *this;
}

Status& Status::AtEvent(int64_t index, std::string_view pointer_prefix) {
  ErrorDetails& d = mutable_details();
  d.event_index = index;
  d.pointer = std::string(pointer_prefix) + d.pointer;
  return *this;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(rep_->code));
  if (!rep_->details.reason.empty()) out += ": " + rep_->details.reason;
  out += ": " + rep_->message;
  if (!rep_->details.pointer.empty()) out += " (at " + rep_->details.pointer + ")";
  return out;
}

}  // namespace jobstate
