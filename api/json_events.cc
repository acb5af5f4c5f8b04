#include "api/json_events.h"

#include <cmath>
#include <limits>
#include <vector>

#include <boost/json.hpp>

#include "api/time_format.h"

namespace jobstate::api {

namespace json = boost::json;
using namespace engine;

namespace {

Status Invalid(const std::string& pointer, const std::string& what) {
  Status s = Status::InvalidArgument("invalid_event", pointer + " " + what);
  s.WithPointer(pointer);
  return s;
}

// Reads the members of one JSON object by name, recording which were read, so that the
// rest can be rejected (envelope) or kept (data).
class Fields {
 public:
  Fields(const json::object& o, std::string pointer)
      : o_(o), ptr_(std::move(pointer)), seen_(o.size()) {}

  const json::value* Get(std::string_view key) {
    auto it = o_.find(key);
    if (it == o_.end()) return nullptr;
    seen_[static_cast<size_t>(it - o_.begin())] = true;
    return it->value().is_null() ? nullptr : &it->value();
  }
  std::string At(std::string_view key) const { return ptr_ + "/" + std::string(key); }

  Status Str(std::string_view key, std::string& out) {
    std::optional<std::string> v;
    Status s = OptStr(key, v);
    if (s.ok() && !v) return Invalid(At(key), "is required");
    if (v) out = std::move(*v);
    return s;
  }
  Status OptStr(std::string_view key, std::optional<std::string>& out) {
    const json::value* v = Get(key);
    if (!v) return Status::OK();
    if (!v->is_string()) return Invalid(At(key), "must be a string");
    out = std::string(v->get_string());
    return Status::OK();
  }
  Status OptInt(std::string_view key, std::optional<int64_t>& out) {
    const json::value* v = Get(key);
    if (!v) return Status::OK();
    if (v->is_int64()) {
      out = v->get_int64();
    } else if (v->is_uint64() && v->get_uint64() <= uint64_t{std::numeric_limits<int64_t>::max()}) {
      out = static_cast<int64_t>(v->get_uint64());
    } else {
      return Invalid(At(key), "must be an integer");
    }
    return Status::OK();
  }
  Status Int(std::string_view key, int64_t& out) {
    std::optional<int64_t> v;
    Status s = OptInt(key, v);
    if (s.ok() && !v) return Invalid(At(key), "is required");
    if (v) out = *v;
    return s;
  }
  Status OptBool(std::string_view key, std::optional<bool>& out) {
    const json::value* v = Get(key);
    if (!v) return Status::OK();
    if (!v->is_bool()) return Invalid(At(key), "must be true or false");
    out = v->get_bool();
    return Status::OK();
  }
  Status Number(std::string_view key, std::optional<double>& out, bool required) {
    const json::value* v = Get(key);
    if (!v) return required ? Invalid(At(key), "is required") : Status::OK();
    if (!v->is_number()) return Invalid(At(key), "must be a number");
    out = v->to_number<double>();
    return Status::OK();
  }
  template <class E>
  Status Enum(std::string_view key, std::optional<E>& out, std::optional<E> (*parse)(std::string_view),
              bool required) {
    const json::value* v = Get(key);
    if (!v) return required ? Invalid(At(key), "is required") : Status::OK();
    if (!v->is_string()) return Invalid(At(key), "must be a string");
    out = parse(v->get_string());
    if (!out) return Invalid(At(key), "has an unknown value '" + std::string(v->get_string()) + "'");
    return Status::OK();
  }
  Status Object(std::string_view key, const json::object*& out, bool required) {
    const json::value* v = Get(key);
    if (!v) return required ? Invalid(At(key), "is required") : Status::OK();
    if (!v->is_object()) return Invalid(At(key), "must be an object");
    out = &v->get_object();
    return Status::OK();
  }
  // Members nobody read, as the text of a JSON object ("" when none).
  std::string Unknown() const {
    json::object rest;
    for (size_t i = 0; i < o_.size(); ++i) {
      const auto& kv = o_.begin()[i];
      if (!seen_[i]) rest.emplace(kv.key(), kv.value());
    }
    return rest.empty() ? "" : json::serialize(rest);
  }
  Status RejectUnknown() const {
    for (size_t i = 0; i < o_.size(); ++i) {
      if (seen_[i]) continue;
      const auto& kv = o_.begin()[i];
      Status s = Status::InvalidArgument(
          "unknown_field", At(kv.key()) + " is not a field of this object");
      s.WithPointer(At(kv.key()));
      return s;
    }
    return Status::OK();
  }

 private:
  const json::object& o_;
  std::string ptr_;
  // The members read, by their place in the object (its keys are unique): a bit each,
  // where a set of the keys read cost an allocation and string compares per lookup.
  std::vector<bool> seen_;
};

#define JS_TRY(expr)                  \
  do {                                \
    Status _s = (expr);               \
    if (!_s.ok()) return Err(_s);     \
  } while (0)

Result<ResultData> ParseResult(Fields& data, std::string_view key) {
  const json::object* o = nullptr;
  JS_TRY(data.Object(key, o, false));
  ResultData r;
  if (!o) return r;
  Fields f(*o, data.At(key));
  if (const json::value* w = f.Get("warnings")) {
    if (!w->is_array()) return Err(Invalid(f.At("warnings"), "must be an array of strings"));
    for (size_t i = 0; i < w->get_array().size(); ++i) {
      const json::value& item = w->get_array()[i];
      if (!item.is_string()) {
        return Err(Invalid(f.At("warnings") + "/" + std::to_string(i), "must be a string"));
      }
      r.warnings.emplace_back(item.get_string());
    }
  }
  r.extra_json = f.Unknown();
  return r;
}

// An optional `result` member into `out`.
Status ParseOptionalResult(Fields& data, std::optional<ResultData>& out) {
  if (!data.Get("result")) return Status::OK();
  auto r = ParseResult(data, "result");
  if (!r) return r.error();
  out = std::move(*r);
  return Status::OK();
}

Result<Billing> ParseBilling(const json::object& o, const std::string& ptr) {
  Fields f(o, ptr);
  Billing b;
  const json::object *cost = nullptr, *rate = nullptr, *credits = nullptr;
  JS_TRY(f.Object("cost", cost, true));
  JS_TRY(f.Object("rate", rate, true));
  JS_TRY(f.Object("credits", credits, true));
  std::optional<double> n;
  Fields c(*cost, f.At("cost"));
  JS_TRY(c.Number("amount", n, true));
  b.cost.amount = *n;
  JS_TRY(c.Str("currency", b.cost.currency));
  Fields r(*rate, f.At("rate"));
  JS_TRY(r.Number("per_credit", n, true));
  b.rate_per_credit = *n;
  JS_TRY(r.Str("currency", b.rate_currency));
  Fields cr(*credits, f.At("credits"));
  JS_TRY(cr.Number("remaining", n, true));
  b.credits_remaining = *n;
  n.reset();
  JS_TRY(cr.Number("used", n, false));
  b.credits_used = n;
  std::optional<ProcessingType> pt;
  JS_TRY(f.Enum("processing_type", pt, ParseProcessingType, false));
  b.processing_type = pt;
  JS_TRY(f.OptInt("pages_processed", b.pages_processed));
  return b;
}

Result<FilesDiscovered> ParseFiles(Fields& data) {
  const json::value* v = data.Get("files");
  if (!v) return Err(Invalid(data.At("files"), "is required"));
  if (!v->is_array()) return Err(Invalid(data.At("files"), "must be an array"));
  FilesDiscovered d;
  const json::array& arr = v->get_array();
  if (arr.size() > 1000) return Err(Invalid(data.At("files"), "holds more than 1000 files"));
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string p = data.At("files") + "/" + std::to_string(i);
    if (!arr[i].is_object()) return Err(Invalid(p, "must be an object"));
    Fields f(arr[i].get_object(), p);
    DiscoveredFile file;
    JS_TRY(f.Str("uri", file.uri));
    JS_TRY(f.OptStr("name", file.name));
    JS_TRY(f.OptInt("size_bytes", file.size_bytes));
    JS_TRY(f.OptStr("content_type", file.content_type));
    d.files.push_back(std::move(file));
  }
  return d;
}

// Parses `data` for one event type into its payload.
Result<Payload> ParsePayload(EventType type, Fields& f) {
  std::optional<Stage> stage;
  switch (type) {
    case EventType::kJobCreated: {
      JobCreated p;
      JS_TRY(f.Str("collection_name", p.collection_name));
      std::optional<JobType> jt;
      JS_TRY(f.Enum("job_type", jt, ParseJobType, true));
      p.job_type = *jt;
      JS_TRY(f.Enum("processing_type", p.processing_type, ParseProcessingType, false));
      std::optional<PipelineMode> mode;
      JS_TRY(f.Enum("pipeline_mode", mode, ParsePipelineMode, false));
      p.pipeline_mode = mode.value_or(PipelineMode::kPipelined);
      JS_TRY(f.OptInt("files_expected", p.files_expected));
      const json::object* meta = nullptr;
      JS_TRY(f.Object("metadata", meta, false));
      if (meta) p.metadata_json = json::serialize(*meta);
      return Payload(p);
    }
    case EventType::kJobStarted:
      return Payload(JobStarted{});
    case EventType::kStageStarted:
      JS_TRY(f.Enum("stage", stage, ParseStage, true));
      return Payload(StageStarted{*stage});
    case EventType::kStageCompleted:
      JS_TRY(f.Enum("stage", stage, ParseStage, true));
      return Payload(StageCompleted{*stage});
    case EventType::kFilesDiscovered: {
      auto d = ParseFiles(f);
      if (!d) return Err(d.error());
      return Payload(std::move(*d));
    }
    case EventType::kFileStarted: {
      FileStarted p;
      JS_TRY(f.Str("uri", p.uri));
      JS_TRY(f.Enum("stage", p.stage, ParseStage, false));
      return Payload(p);
    }
    case EventType::kFileProgress: {
      FileProgress p;
      JS_TRY(f.Str("uri", p.uri));
      JS_TRY(f.Enum("stage", stage, ParseStage, true));
      p.stage = *stage;
      std::optional<FilePhase> phase;
      JS_TRY(f.Enum("phase", phase, ParseFilePhase, false));
      p.phase = phase.value_or(FilePhase::kStarted);
      JS_TRY(f.OptStr("message", p.message));
      return Payload(p);
    }
    case EventType::kFileCompleted: {
      FileCompleted p;
      JS_TRY(f.Str("uri", p.uri));
      JS_TRY(f.OptInt("chunks", p.chunks));
      JS_TRY(f.OptInt("tokens", p.tokens));
      JS_TRY(f.OptInt("pages", p.pages));
      return Payload(p);
    }
    case EventType::kFileFailed: {
      FileFailed p;
      JS_TRY(f.Str("uri", p.uri));
      JS_TRY(f.Str("error_code", p.error_code));
      JS_TRY(f.Str("error_message", p.error_message));
      JS_TRY(f.OptBool("retryable", p.retryable));
      JS_TRY(f.Enum("stage", p.stage, ParseStage, false));
      return Payload(p);
    }
    case EventType::kFileSkipped: {
      FileSkipped p;
      JS_TRY(f.Str("uri", p.uri));
      JS_TRY(f.OptStr("reason", p.reason));
      return Payload(p);
    }
    case EventType::kFileRetried: {
      FileRetried p;
      JS_TRY(f.Str("uri", p.uri));
      return Payload(p);
    }
    case EventType::kFileCancelled: {
      FileCancelled p;
      JS_TRY(f.Str("uri", p.uri));
      JS_TRY(f.OptStr("reason", p.reason));
      return Payload(p);
    }
    case EventType::kJobProgress: {
      JobProgress p;
      JS_TRY(f.Str("message", p.message));
      return Payload(p);
    }
    case EventType::kJobWorkers: {
      JobWorkers p;
      JS_TRY(f.Int("count", p.count));
      if (const json::value* ids = f.Get("worker_ids")) {
        if (!ids->is_array()) return Err(Invalid(f.At("worker_ids"), "must be an array of strings"));
        p.worker_ids.emplace();
        for (size_t i = 0; i < ids->get_array().size(); ++i) {
          const json::value& id = ids->get_array()[i];
          if (!id.is_string()) {
            return Err(Invalid(f.At("worker_ids") + "/" + std::to_string(i), "must be a string"));
          }
          p.worker_ids->emplace_back(id.get_string());
        }
      }
      return Payload(p);
    }
    case EventType::kJobCompleted: {
      JobCompleted p;
      JS_TRY(ParseOptionalResult(f, p.result));
      const json::object* billing = nullptr;
      JS_TRY(f.Object("billing", billing, false));
      if (billing) {
        auto b = ParseBilling(*billing, f.At("billing"));
        if (!b) return Err(b.error());
        p.billing = std::move(*b);
      }
      return Payload(p);
    }
    case EventType::kJobFailed: {
      JobFailed p;
      JS_TRY(f.Str("error_code", p.error_code));
      JS_TRY(f.Str("error_message", p.error_message));
      JS_TRY(ParseOptionalResult(f, p.result));
      return Payload(p);
    }
    case EventType::kJobCancelled: {
      JobCancelled p;
      JS_TRY(f.OptStr("cancelled_by", p.cancelled_by));
      JS_TRY(f.OptStr("reason", p.reason));
      return Payload(p);
    }
  }
  return Err(Status::Internal("unhandled event type"));
}

}  // namespace

Result<Event> ParseEvent(const json::value& v, const std::string& pointer) {
  if (!v.is_object()) return Err(Invalid(pointer, "must be a JSON object"));
  Fields f(v.get_object(), pointer);
  Event e;
  JS_TRY(f.Str("event_id", e.event_id));
  JS_TRY(f.Str("job_id", e.job_id));
  std::string type_name, occurred_at;
  JS_TRY(f.Str("type", type_name));
  const std::optional<EventType> type = ParseEventType(type_name);
  if (!type) return Err(Invalid(f.At("type"), "is not an event type: '" + type_name + "'"));
  JS_TRY(f.Str("occurred_at", occurred_at));
  const auto when = ParseInstant(occurred_at);
  if (!when) {
    return Err(Invalid(f.At("occurred_at"), "must be an RFC 3339 instant with an offset"));
  }
  e.occurred_at = *when;
  JS_TRY(f.OptStr("worker_id", e.worker_id));
  std::optional<int64_t> expected;
  JS_TRY(f.OptInt("expected_version", expected));
  if (expected && *expected < 0) return Err(Invalid(f.At("expected_version"), "must be >= 0"));
  if (expected) e.expected_version = static_cast<uint64_t>(*expected);
  const json::object* data = nullptr;
  JS_TRY(f.Object("data", data, false));
  JS_TRY(f.RejectUnknown());
  static const json::object kEmpty;
  Fields d(data ? *data : kEmpty, f.At("data"));
  auto payload = ParsePayload(*type, d);
  if (!payload) return Err(payload.error());
  e.data = std::move(*payload);
  e.extra_data_json = d.Unknown();
  return e;
}

namespace {

// Parses into `storage`: the batches below use a monotonic resource, which the DOM is
// read from and then dropped whole, instead of one heap allocation per string.
Result<json::value> ParseJson(std::string_view text, const BatchLimits& limits,
                              const std::string& pointer, json::storage_ptr storage) {
  json::parse_options opt;
  opt.max_depth = limits.max_depth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, std::move(storage), opt);
  if (ec) {
    Status s = Status::InvalidArgument("invalid_json", "the body is not valid JSON (" +
                                                           ec.message() + ")");
    s.WithPointer(pointer);
    return Err(std::move(s));
  }
  return v;
}

Status TooMany(const BatchLimits& limits) {
  return Status::InvalidArgument("too_many_events",
                                 "a batch holds at most " +
                                     std::to_string(limits.max_events) + " events")
      .WithPointer("/events");
}

}  // namespace

Result<std::vector<Event>> ParseJsonBatch(std::string_view body, const BatchLimits& limits) {
  json::monotonic_resource arena;
  auto doc = ParseJson(body, limits, "", &arena);
  if (!doc) return Err(doc.error());
  if (!doc->is_object()) return Err(Invalid("", "the body must be an object {\"events\": [...]}"));
  Fields top(doc->get_object(), "");
  const json::value* events = top.Get("events");
  JS_TRY(top.RejectUnknown());
  if (!events || !events->is_array()) return Err(Invalid("/events", "must be an array of events"));
  const json::array& arr = events->get_array();
  if (arr.empty()) return Err(Invalid("/events", "must hold at least one event"));
  if (arr.size() > limits.max_events) return Err(TooMany(limits));
  std::vector<Event> out;
  out.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    auto e = ParseEvent(arr[i], "/events/" + std::to_string(i));
    if (!e) {
      Status s = e.error();
      s.mutable_details().event_index = static_cast<int64_t>(i);
      return Err(std::move(s));
    }
    out.push_back(std::move(*e));
  }
  return out;
}

Result<std::vector<Event>> ParseNdjsonBatch(std::string_view body, const BatchLimits& limits) {
  std::vector<Event> out;
  size_t line_start = 0;
  while (line_start < body.size()) {
    size_t end = body.find('\n', line_start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(line_start, end - line_start);
    line_start = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
    if (out.size() == limits.max_events) return Err(TooMany(limits));
    const std::string pointer = "/events/" + std::to_string(out.size());
    json::monotonic_resource arena;
    auto doc = ParseJson(line, limits, pointer, &arena);
    auto e = doc ? ParseEvent(*doc, pointer) : Result<Event>(Err(doc.error()));
    if (!e) {
      Status s = e.error();
      s.mutable_details().event_index = static_cast<int64_t>(out.size());
      return Err(std::move(s));
    }
    out.push_back(std::move(*e));
  }
  if (out.empty()) return Err(Invalid("/events", "must hold at least one event"));
  return out;
}

#undef JS_TRY

}  // namespace jobstate::api
