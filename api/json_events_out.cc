// Events back to JSON, as history (and export) return them: the inverse of the parser
// in json_events.cc.
#include <boost/json.hpp>

#include "api/json_events.h"
#include "api/json_write.h"
#include "api/time_format.h"

namespace jobstate::api {

namespace json = boost::json;
using namespace engine;

namespace {

template <class T>
void Opt(JsonWriter& w, const char* key, const std::optional<T>& v) {
  if (!v) return;  // absent members stay absent, as they were sent
  w.Key(key);
  if constexpr (std::is_enum_v<T>) {
    w.String(Name(*v));
  } else {
    w.Maybe(v);
  }
}

void RawObjectMembers(JsonWriter& w, const std::string& object_text) {
  if (object_text.empty()) return;
  boost::system::error_code ec;
  json::value v = json::parse(object_text, ec);
  if (ec || !v.is_object()) return;
  for (const auto& kv : v.get_object()) w.Key(kv.key()).Value(kv.value());
}

void WriteResult(JsonWriter& w, const std::optional<ResultData>& r) {
  if (!r) return;
  w.Key("result").BeginObject();
  w.Key("warnings").BeginArray();
  for (const auto& warning : r->warnings) w.String(warning);
  w.EndArray();
  RawObjectMembers(w, r->extra_json);
  w.EndObject();
}

struct DataWriter {
  JsonWriter& w;
  void operator()(const JobCreated& p) {
    w.Key("collection_name").String(p.collection_name);
    w.Key("job_type").String(Name(p.job_type));
    Opt(w, "processing_type", p.processing_type);
    w.Key("pipeline_mode").String(Name(p.pipeline_mode));
    Opt(w, "files_expected", p.files_expected);
    if (p.metadata_json) {
      w.Key("metadata").BeginObject();
      RawObjectMembers(w, *p.metadata_json);
      w.EndObject();
    }
  }
  void operator()(const JobStarted&) {}
  void operator()(const StageStarted& p) { w.Key("stage").String(Name(p.stage)); }
  void operator()(const StageCompleted& p) { w.Key("stage").String(Name(p.stage)); }
  void operator()(const FilesDiscovered& p) {
    w.Key("files").BeginArray();
    for (const DiscoveredFile& f : p.files) {
      w.BeginObject();
      w.Key("uri").String(f.uri);
      Opt(w, "name", f.name);
      Opt(w, "size_bytes", f.size_bytes);
      Opt(w, "content_type", f.content_type);
      w.EndObject();
    }
    w.EndArray();
  }
  void operator()(const FileStarted& p) {
    w.Key("uri").String(p.uri);
    Opt(w, "stage", p.stage);
  }
  void operator()(const FileProgress& p) {
    w.Key("uri").String(p.uri);
    w.Key("stage").String(Name(p.stage));
    w.Key("phase").String(Name(p.phase));
    Opt(w, "message", p.message);
  }
  void operator()(const FileCompleted& p) {
    w.Key("uri").String(p.uri);
    Opt(w, "chunks", p.chunks);
    Opt(w, "tokens", p.tokens);
    Opt(w, "pages", p.pages);
  }
  void operator()(const FileFailed& p) {
    w.Key("uri").String(p.uri);
    w.Key("error_code").String(p.error_code);
    w.Key("error_message").String(p.error_message);
    Opt(w, "retryable", p.retryable);
    Opt(w, "stage", p.stage);
  }
  void operator()(const FileSkipped& p) {
    w.Key("uri").String(p.uri);
    Opt(w, "reason", p.reason);
  }
  void operator()(const FileRetried& p) { w.Key("uri").String(p.uri); }
  void operator()(const FileCancelled& p) {
    w.Key("uri").String(p.uri);
    Opt(w, "reason", p.reason);
  }
  void operator()(const JobProgress& p) { w.Key("message").String(p.message); }
  void operator()(const JobWorkers& p) {
    w.Key("count").Int(p.count);
    if (p.worker_ids) {
      w.Key("worker_ids").BeginArray();
      for (const auto& id : *p.worker_ids) w.String(id);
      w.EndArray();
    }
  }
  void operator()(const JobCompleted& p) {
    WriteResult(w, p.result);
    if (!p.billing) return;
    const Billing& b = *p.billing;
    w.Key("billing").BeginObject();
    w.Key("cost").BeginObject().Key("amount").Double(b.cost.amount);
    w.Key("currency").String(b.cost.currency).EndObject();
    w.Key("rate").BeginObject().Key("per_credit").Double(b.rate_per_credit);
    w.Key("currency").String(b.rate_currency).EndObject();
    w.Key("credits").BeginObject();
    Opt(w, "used", b.credits_used);
    w.Key("remaining").Double(b.credits_remaining).EndObject();
    Opt(w, "processing_type", b.processing_type);
    Opt(w, "pages_processed", b.pages_processed);
    w.EndObject();
  }
  void operator()(const JobFailed& p) {
    w.Key("error_code").String(p.error_code);
    w.Key("error_message").String(p.error_message);
    WriteResult(w, p.result);
  }
  void operator()(const JobCancelled& p) {
    Opt(w, "cancelled_by", p.cancelled_by);
    Opt(w, "reason", p.reason);
  }
};

}  // namespace

void WriteRecordedEvent(JsonWriter& w, const RecordedEvent& re) {
  const Event& e = re.event;
  w.BeginObject();
  w.Key("event_id").String(e.event_id);
  w.Key("job_id").String(e.job_id);
  w.Key("type").String(Name(e.type()));
  char text[kInstantChars];
  w.Key("occurred_at").String(FormatInstant(e.occurred_at, text));
  Opt(w, "worker_id", e.worker_id);
  if (e.expected_version) w.Key("expected_version").Int(static_cast<int64_t>(*e.expected_version));
  w.Key("data").BeginObject();
  std::visit(DataWriter{w}, e.data);
  RawObjectMembers(w, e.extra_data_json);
  w.EndObject();
  w.Key("version").Int(static_cast<int64_t>(re.version));
  w.Key("position").Int(static_cast<int64_t>(re.position));
  w.Key("recorded_at").String(FormatInstant(re.recorded_at, text));
  w.EndObject();
}

}  // namespace jobstate::api
