#include "api/json_views.h"

#include <boost/json.hpp>

#include "api/time_format.h"

namespace jobstate::api {

namespace json = boost::json;
using namespace engine;

namespace {

json::value Instant(const std::optional<Millis>& t) {
  return t ? json::value(FormatInstant(*t)) : json::value(nullptr);
}
template <class T>
json::value OrNull(const std::optional<T>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object ProgressToJson(const ProgressView& p, const json::storage_ptr& sp) {
  json::array stages(sp);
  for (const StageView& s : p.stages) {
    stages.push_back(json::object({{"name", Name(s.name)},
                                   {"status", Name(s.status)},
                                   {"started_at", Instant(s.started_at)},
                                   {"completed_at", Instant(s.completed_at)}},
                                  sp));
  }
  return json::object({
      {"current_stage", OrNull(p.current_stage)},
      {"stage_description", OrNull(p.stage_description)},
      {"files_total", p.files_total},
      {"files_processed", p.files_processed},
      {"files_failed", p.files_failed},
      {"files_skipped", p.files_skipped},
      {"elapsed_seconds", OrNull(p.elapsed_seconds)},
      {"stage_index", OrNull(p.stage_index)},
      {"stage_count", p.stage_count},
      {"stages", std::move(stages)},
      {"scan_complete", p.scan_complete},
      {"files_queued", p.files_queued},
      {"files_processing", p.files_processing},
      {"files_completed", p.files_completed},
      {"files_cancelled", p.files_cancelled},
      {"bytes_total", p.bytes_total},
      {"bytes_done", p.bytes_done},
      {"percent", p.percent},
      {"files_per_second", OrNull(p.files_per_second)},
      {"eta_low_seconds", OrNull(p.eta_low_seconds)},
      {"eta_high_seconds", OrNull(p.eta_high_seconds)},
      {"estimated_completion_at", Instant(p.estimated_completion_at)},
      {"stalled", p.stalled},
      {"last_event_at", Instant(p.last_event_at)},
  }, sp);
}

json::value ResultToJson(const std::optional<ResultView>& r, const json::storage_ptr& sp) {
  if (!r) return nullptr;
  json::object out(sp);
  if (!r->extra_json.empty()) {
    // Further fields the final event's result carried come first, so that ours win.
    boost::system::error_code ec;
    json::value extra = json::parse(r->extra_json, ec, sp);
    if (!ec && extra.is_object()) out = std::move(extra.get_object());
  }
  json::array warnings(sp);
  for (const std::string& w : r->warnings) warnings.emplace_back(w);
  out["files_indexed"] = r->files_indexed;
  out["files_failed"] = r->files_failed;
  out["files_skipped"] = r->files_skipped;
  out["duration_seconds"] = OrNull(r->duration_seconds);
  out["warnings"] = std::move(warnings);
  out["files_cancelled"] = r->files_cancelled;
  out["chunks"] = r->chunks;
  out["tokens"] = r->tokens;
  return out;
}

json::value BillingToJson(const std::optional<BillingView>& b, const json::storage_ptr& sp) {
  if (!b) return nullptr;
  return json::object({
      {"cost", json::object{{"amount", b->cost.amount}, {"currency", b->cost.currency}}},
      {"credits", json::object{{"used", b->credits_used}, {"remaining", b->credits_remaining}}},
      {"rate", json::object{{"per_credit", b->rate_per_credit}, {"currency", b->rate_currency}}},
      {"processing_type", Name(b->processing_type)},
      {"pages_processed", b->pages_processed},
  }, sp);
}

}  // namespace

json::object StatusToJson(const JobStatusView& v, json::storage_ptr sp) {
  return json::object({
      {"job_id", v.job_id},
      {"status", Name(v.status)},
      {"collection_name", v.collection_name},
      {"job_type", Name(v.job_type)},
      {"progress_message", v.progress_message},
      {"progress", ProgressToJson(v.progress, sp)},
      {"result", ResultToJson(v.result, sp)},
      {"billing", BillingToJson(v.billing, sp)},
      {"error_code", OrNull(v.error_code)},
      {"error_message", OrNull(v.error_message)},
      {"cancelled_by", OrNull(v.cancelled_by)},
      {"cancelled_at", Instant(v.cancelled_at)},
      {"created_at", FormatInstant(v.created_at)},
      {"updated_at", FormatInstant(v.updated_at)},
      {"started_at", Instant(v.started_at)},
      {"completed_at", Instant(v.completed_at)},
      {"estimated_time_remaining_seconds", OrNull(v.estimated_time_remaining_seconds)},
      {"version", v.version},
  }, sp);
}

json::object FileRowToJson(const FileRow& r, json::storage_ptr sp) {
  json::value stage = nullptr;
  if (r.stage) stage = Name(*r.stage);
  return json::object({
      {"uri", r.uri},
      {"status", Name(r.status)},
      {"stage", stage},
      {"progress_message", OrNull(r.progress_message)},
      {"error_code", OrNull(r.error_code)},
      {"error_message", OrNull(r.error_message)},
      {"updated_at", FormatInstant(r.updated_at)},
      {"name", OrNull(r.name)},
      {"size_bytes", OrNull(r.size_bytes)},
      {"content_type", OrNull(r.content_type)},
      {"pages", OrNull(r.pages)},
      {"attempts", r.attempts},
      {"retryable", OrNull(r.retryable)},
      {"skip_reason", OrNull(r.skip_reason)},
      {"chunks", OrNull(r.chunks)},
      {"tokens", OrNull(r.tokens)},
      {"started_at", Instant(r.started_at)},
      {"completed_at", Instant(r.completed_at)},
  }, sp);
}

void AddFilesPage(json::object& out, const FilePage& page, size_t limit,
                  const std::optional<std::string>& next_cursor,
                  const std::string& status_filter) {
  const json::storage_ptr& sp = out.storage();
  json::array files(sp);
  files.reserve(page.rows.size());
  for (const FileRow& r : page.rows) files.push_back(FileRowToJson(r, sp));
  out["files"] = std::move(files);
  out["files_page"] = json::object({
      {"limit", limit},
      {"next_cursor", OrNull(next_cursor)},
      {"total_estimated", page.total_matching},
      {"has_more", page.has_more},
      {"status_filter", status_filter.empty() ? json::value(nullptr) : json::value(status_filter)},
  }, sp);
}

}  // namespace jobstate::api
