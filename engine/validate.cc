#include "engine/validate.h"

#include <cmath>
#include <set>
#include <string>

namespace jobstate::engine {

namespace {

Status Invalid(std::string pointer, std::string msg) {
  Status s = Status::InvalidArgument("invalid_event", std::move(msg));
  s.WithPointer(std::move(pointer));
  return s;
}

// ASCII classes without the C library's locale tables (a call per character: 2% of the
// commit path's fold thread went to isxdigit and tolower on event ids).
constexpr bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool IsAlpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
constexpr bool IsHexDigit(unsigned char c) {
  return IsDigit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}
constexpr char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
}

// Printable: no ASCII control characters (UTF-8 bytes >= 0x80 pass).
bool IsPrintable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

Status CheckText(const std::string& v, const std::string& ptr, size_t min, size_t max) {
  if (v.size() < min) return Invalid(ptr, ptr + " must not be empty");
  if (v.size() > max) {
    return Invalid(ptr, ptr + " is longer than " + std::to_string(max) + " bytes");
  }
  return Status::OK();
}

Status CheckText(const std::optional<std::string>& v, const std::string& ptr, size_t min,
                 size_t max) {
  return v ? CheckText(*v, ptr, min, max) : Status::OK();
}

Status CheckNonNegative(const std::optional<int64_t>& v, const std::string& ptr) {
  if (v && *v < 0) return Invalid(ptr, ptr + " must be >= 0");
  return Status::OK();
}

Status CheckAmount(double v, const std::string& ptr) {
  if (!std::isfinite(v) || v < 0) return Invalid(ptr, ptr + " must be a number >= 0");
  return Status::OK();
}

Status CheckUri(const std::string& uri, const std::string& ptr) {
  return CheckText(uri, ptr, 1, Limits::kMaxUri);
}

Status CheckResult(const std::optional<ResultData>& r, const std::string& ptr) {
  if (!r) return Status::OK();
  for (size_t i = 0; i < r->warnings.size(); ++i) {
    Status s = CheckText(r->warnings[i], ptr + "/warnings/" + std::to_string(i), 0,
                         Limits::kMaxLongText);
    if (!s.ok()) return s;
  }
  return CheckText(r->extra_json, ptr, 0, Limits::kMaxJsonText);
}

Status CheckBilling(const Billing& b) {
  const std::string p = "/data/billing";
  Status s = CheckAmount(b.cost.amount, p + "/cost/amount");
  if (s.ok()) s = CheckText(b.cost.currency, p + "/cost/currency", 1, Limits::kMaxShortText);
  if (s.ok()) s = CheckAmount(b.credits_remaining, p + "/credits/remaining");
  if (s.ok() && b.credits_used) s = CheckAmount(*b.credits_used, p + "/credits/used");
  if (s.ok()) s = CheckAmount(b.rate_per_credit, p + "/rate/per_credit");
  if (s.ok()) s = CheckText(b.rate_currency, p + "/rate/currency", 1, Limits::kMaxShortText);
  if (s.ok()) s = CheckNonNegative(b.pages_processed, p + "/pages_processed");
  return s;
}

Status CheckFiles(const FilesDiscovered& d) {
  if (d.files.empty() || d.files.size() > Limits::kMaxFilesPerEvent) {
    return Invalid("/data/files", "/data/files must hold 1 to 1000 files");
  }
  for (size_t i = 0; i < d.files.size(); ++i) {
    const DiscoveredFile& f = d.files[i];
    const std::string p = "/data/files/" + std::to_string(i);
    Status s = CheckUri(f.uri, p + "/uri");
    if (s.ok()) s = CheckText(f.name, p + "/name", 0, Limits::kMaxLongText);
    if (s.ok()) s = CheckNonNegative(f.size_bytes, p + "/size_bytes");
    if (s.ok()) s = CheckText(f.content_type, p + "/content_type", 0, Limits::kMaxShortText);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// One overload per payload; each checks what the type system cannot.
struct PayloadChecker {
  Status operator()(const JobCreated& p) const {
    Status s = CheckText(p.collection_name, "/data/collection_name", 1, Limits::kMaxShortText);
    if (s.ok()) s = CheckNonNegative(p.files_expected, "/data/files_expected");
    if (s.ok()) s = CheckText(p.metadata_json, "/data/metadata", 0, Limits::kMaxJsonText);
    return s;
  }
  Status operator()(const JobStarted&) const { return Status::OK(); }
  Status operator()(const StageStarted&) const { return Status::OK(); }
  Status operator()(const StageCompleted&) const { return Status::OK(); }
  Status operator()(const FilesDiscovered& p) const { return CheckFiles(p); }
  Status operator()(const FileStarted& p) const { return CheckUri(p.uri, "/data/uri"); }
  Status operator()(const FileProgress& p) const {
    Status s = CheckUri(p.uri, "/data/uri");
    if (s.ok()) s = CheckText(p.message, "/data/message", 0, Limits::kMaxLongText);
    return s;
  }
  Status operator()(const FileCompleted& p) const {
    Status s = CheckUri(p.uri, "/data/uri");
    if (s.ok()) s = CheckNonNegative(p.chunks, "/data/chunks");
    if (s.ok()) s = CheckNonNegative(p.tokens, "/data/tokens");
    if (s.ok()) s = CheckNonNegative(p.pages, "/data/pages");
    return s;
  }
  Status operator()(const FileFailed& p) const {
    Status s = CheckUri(p.uri, "/data/uri");
    if (s.ok()) s = CheckText(p.error_code, "/data/error_code", 1, Limits::kMaxShortText);
    if (s.ok()) s = CheckText(p.error_message, "/data/error_message", 1, Limits::kMaxLongText);
    return s;
  }
  Status operator()(const FileSkipped& p) const {
    Status s = CheckUri(p.uri, "/data/uri");
    if (s.ok()) s = CheckText(p.reason, "/data/reason", 0, Limits::kMaxLongText);
    return s;
  }
  Status operator()(const FileRetried& p) const { return CheckUri(p.uri, "/data/uri"); }
  Status operator()(const FileCancelled& p) const {
    Status s = CheckUri(p.uri, "/data/uri");
    if (s.ok()) s = CheckText(p.reason, "/data/reason", 0, Limits::kMaxLongText);
    return s;
  }
  Status operator()(const JobProgress& p) const {
    return CheckText(p.message, "/data/message", 0, Limits::kMaxJobProgressMessage);
  }
  Status operator()(const JobWorkers& p) const {
    if (p.count < 0) return Invalid("/data/count", "/data/count must be >= 0");
    if (!p.worker_ids) return Status::OK();
    if (p.worker_ids->size() > Limits::kMaxWorkerIds) {
      return Invalid("/data/worker_ids", "/data/worker_ids holds too many ids");
    }
    for (size_t i = 0; i < p.worker_ids->size(); ++i) {
      Status s = CheckText((*p.worker_ids)[i], "/data/worker_ids/" + std::to_string(i), 1,
                           Limits::kMaxWorkerId);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }
  Status operator()(const JobCompleted& p) const {
    Status s = CheckResult(p.result, "/data/result");
    if (s.ok() && p.billing) s = CheckBilling(*p.billing);
    return s;
  }
  Status operator()(const JobFailed& p) const {
    Status s = CheckText(p.error_code, "/data/error_code", 1, Limits::kMaxShortText);
    if (s.ok()) s = CheckText(p.error_message, "/data/error_message", 1, Limits::kMaxLongText);
    if (s.ok()) s = CheckResult(p.result, "/data/result");
    return s;
  }
  Status operator()(const JobCancelled& p) const {
    Status s = CheckText(p.cancelled_by, "/data/cancelled_by", 1, Limits::kMaxShortText);
    if (s.ok()) s = CheckText(p.reason, "/data/reason", 0, Limits::kMaxLongText);
    return s;
  }
};

}  // namespace

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHexDigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

bool IsJobId(std::string_view s) {
  if (s.empty() || s.size() > Limits::kMaxJobId) return false;
  for (unsigned char c : s) {
    const bool punctuation = c == '_' || c == '-' || c == '.' || c == ':';
    if (!IsDigit(c) && !IsAlpha(c) && !punctuation) return false;
  }
  return true;
}

Status ValidateEvent(Event& e) {
  if (!IsUuid(e.event_id)) return Invalid("/event_id", "event_id must be a UUID");
  for (char& c : e.event_id) c = Lower(c);
  if (!IsJobId(e.job_id)) {
    return Invalid("/job_id", "job_id must be 1 to 128 characters of A-Z a-z 0-9 _ - . :");
  }
  if (e.worker_id && (e.worker_id->empty() || e.worker_id->size() > Limits::kMaxWorkerId ||
                      !IsPrintable(*e.worker_id))) {
    return Invalid("/worker_id", "worker_id must be 1 to 128 printable characters");
  }
  if (e.extra_data_json.size() > Limits::kMaxJsonText) {
    return Invalid("/data", "unknown members of data exceed 64 KiB");
  }
  return std::visit(PayloadChecker{}, e.data);
}

}  // namespace jobstate::engine
