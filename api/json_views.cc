#include "api/json_views.h"

#include <set>

#include <boost/json.hpp>

#include "api/time_format.h"

namespace jobstate::api {

namespace json = boost::json;
using namespace engine;

namespace {

void Instant(JsonWriter& w, const std::optional<Millis>& t) {
  if (t) {
    char text[kInstantChars];
    w.String(FormatInstant(*t, text));
  } else {
    w.Null();
  }
}
void WriteProgress(JsonWriter& w, const ProgressView& p) {
  w.BeginObject();
  w.Key("current_stage").Maybe(p.current_stage);
  w.Key("stage_description").Maybe(p.stage_description);
  w.Key("files_total").Int(p.files_total);
  w.Key("files_processed").Int(p.files_processed);
  w.Key("files_failed").Int(p.files_failed);
  w.Key("files_skipped").Int(p.files_skipped);
  w.Key("elapsed_seconds").Maybe(p.elapsed_seconds);
  w.Key("stage_index").Maybe(p.stage_index);
  w.Key("stage_count").Int(p.stage_count);
  w.Key("stages").BeginArray();
  for (const StageView& s : p.stages) {
    w.BeginObject();
    w.Key("name").String(Name(s.name));
    w.Key("status").String(Name(s.status));
    w.Key("started_at");
  Instant(w, s.started_at);
    w.Key("completed_at");
  Instant(w, s.completed_at);
    w.EndObject();
  }
  w.EndArray();
  w.Key("scan_complete").Bool(p.scan_complete);
  w.Key("files_queued").Int(p.files_queued);
  w.Key("files_processing").Int(p.files_processing);
  w.Key("files_completed").Int(p.files_completed);
  w.Key("files_cancelled").Int(p.files_cancelled);
  w.Key("bytes_total").Int(p.bytes_total);
  w.Key("bytes_done").Int(p.bytes_done);
  w.Key("percent").Double(p.percent);
  w.Key("files_per_second").Maybe(p.files_per_second);
  w.Key("eta_low_seconds").Maybe(p.eta_low_seconds);
  w.Key("eta_high_seconds").Maybe(p.eta_high_seconds);
  w.Key("estimated_completion_at");
  Instant(w, p.estimated_completion_at);
  w.Key("stalled").Bool(p.stalled);
  w.Key("last_event_at");
  Instant(w, p.last_event_at);
  w.EndObject();
}

void WriteResult(JsonWriter& w, const std::optional<ResultView>& r) {
  if (!r) {
    w.Null();
    return;
  }
  static const std::set<std::string, std::less<>> kOurs = {
      "files_indexed", "files_failed", "files_skipped", "duration_seconds",
      "warnings",      "files_cancelled", "chunks",     "tokens", "eta_accuracy"};
  w.BeginObject();
  if (!r->extra_json.empty()) {
    // Further fields the final event's result carried; ours take precedence.
    boost::system::error_code ec;
    json::value extra = json::parse(r->extra_json, ec);
    if (!ec && extra.is_object()) {
      for (const auto& kv : extra.get_object()) {
        if (!kOurs.count(kv.key())) w.Key(kv.key()).Value(kv.value());
      }
    }
  }
  w.Key("files_indexed").Int(r->files_indexed);
  w.Key("files_failed").Int(r->files_failed);
  w.Key("files_skipped").Int(r->files_skipped);
  w.Key("duration_seconds").Maybe(r->duration_seconds);
  w.Key("warnings").BeginArray();
  for (const std::string& warning : r->warnings) w.String(warning);
  w.EndArray();
  w.Key("files_cancelled").Int(r->files_cancelled);
  w.Key("chunks").Int(r->chunks);
  w.Key("tokens").Int(r->tokens);
  // How far the ETA was from the truth when `percent` reached 10, 25, 50, 75 and 90.
  w.Key("eta_accuracy");
  if (!r->eta_accuracy) {
    w.Null();
  } else {
    w.BeginObject();
    for (size_t i = 0; i < engine::kEtaCheckpointTenths.size(); ++i) {
      w.Key("at_" + std::to_string(engine::kEtaCheckpointTenths[i] / 10) + "_percent")
          .Maybe(r->eta_accuracy->error[i]);
    }
    w.EndObject();
  }
  w.EndObject();
}

void WriteBilling(JsonWriter& w, const std::optional<BillingView>& b) {
  if (!b) {
    w.Null();
    return;
  }
  w.BeginObject();
  w.Key("cost").BeginObject();
  w.Key("amount").Double(b->cost.amount);
  w.Key("currency").String(b->cost.currency);
  w.EndObject();
  w.Key("credits").BeginObject();
  w.Key("used").Double(b->credits_used);
  w.Key("remaining").Double(b->credits_remaining);
  w.EndObject();
  w.Key("rate").BeginObject();
  w.Key("per_credit").Double(b->rate_per_credit);
  w.Key("currency").String(b->rate_currency);
  w.EndObject();
  w.Key("processing_type").String(Name(b->processing_type));
  w.Key("pages_processed").Int(b->pages_processed);
  w.EndObject();
}

}  // namespace

void WriteStatusMembers(JsonWriter& w, const JobStatusView& v) {
  w.Key("job_id").String(v.job_id);
  w.Key("status").String(Name(v.status));
  w.Key("collection_name").String(v.collection_name);
  w.Key("job_type").String(Name(v.job_type));
  w.Key("progress_message").String(v.progress_message);
  w.Key("progress");
  WriteProgress(w, v.progress);
  w.Key("result");
  WriteResult(w, v.result);
  w.Key("billing");
  WriteBilling(w, v.billing);
  w.Key("error_code").Maybe(v.error_code);
  w.Key("error_message").Maybe(v.error_message);
  w.Key("cancelled_by").Maybe(v.cancelled_by);
  w.Key("cancelled_at");
  Instant(w, v.cancelled_at);
  w.Key("created_at");
  Instant(w, v.created_at);
  w.Key("updated_at");
  Instant(w, v.updated_at);
  w.Key("started_at");
  Instant(w, v.started_at);
  w.Key("completed_at");
  Instant(w, v.completed_at);
  w.Key("estimated_time_remaining_seconds").Maybe(v.estimated_time_remaining_seconds);
  w.Key("version").Int(static_cast<int64_t>(v.version));
}

void WriteFileRow(JsonWriter& w, const FileRow& r) {
  w.BeginObject();
  w.Key("uri").String(r.uri);
  w.Key("status").String(Name(r.status));
  w.Key("stage").Maybe(r.stage ? std::optional<std::string_view>(Name(*r.stage)) : std::nullopt);
  w.Key("progress_message").Maybe(r.progress_message);
  w.Key("error_code").Maybe(r.error_code);
  w.Key("error_message").Maybe(r.error_message);
  w.Key("updated_at");
  Instant(w, r.updated_at);
  w.Key("name").Maybe(r.name);
  w.Key("size_bytes").Maybe(r.size_bytes);
  w.Key("content_type").Maybe(r.content_type);
  w.Key("pages").Maybe(r.pages);
  w.Key("attempts").Int(r.attempts);
  w.Key("retryable").Maybe(r.retryable);
  w.Key("skip_reason").Maybe(r.skip_reason);
  w.Key("chunks").Maybe(r.chunks);
  w.Key("tokens").Maybe(r.tokens);
  w.Key("started_at");
  Instant(w, r.started_at);
  w.Key("completed_at");
  Instant(w, r.completed_at);
  w.EndObject();
}

void WriteFilesPageMembers(JsonWriter& w, const FilePage& page, size_t limit,
                           const std::optional<std::string>& next_cursor,
                           const std::string& status_filter) {
  w.Key("files").BeginArray();
  for (const FileRow& r : page.rows) WriteFileRow(w, r);
  w.EndArray();
  w.Key("files_page").BeginObject();
  w.Key("limit").Int(static_cast<int64_t>(limit));
  w.Key("next_cursor").Maybe(next_cursor);
  w.Key("total_estimated").Int(page.total_matching);
  w.Key("has_more").Bool(page.has_more);
  w.Key("status_filter").Maybe(status_filter.empty() ? std::nullopt
                                                      : std::optional<std::string>(status_filter));
  w.EndObject();
}

}  // namespace jobstate::api
