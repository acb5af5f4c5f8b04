// Service's history routes: a job's stream as stored.
#include <limits>

#include "api/internal/call.h"
#include "api/json_events.h"
#include "api/json_write.h"
#include "api/problem.h"
#include "api/service.h"

namespace jobstate::api {

using namespace internal;

namespace {

bool WantsNdjson(const Request& req) {
  return std::string_view(req[http::field::accept]).find("application/x-ndjson") !=
         std::string_view::npos;
}

}  // namespace

Response Service::GetJobEvents(Call& call, const std::string& job_id) {
  const unsigned v = call.req.version();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  auto from = IntParam(call, "from_version", 1, std::numeric_limits<int64_t>::min(), kMax);
  if (from && *from < 0) from = Err(InvalidParameter("from_version", "must not be negative"));
  auto limit = IntParam(call, "limit", 1000, 1, 10'000);
  if (!from) return MakeProblem(from.error(), v, call.request_id);
  if (!limit) return MakeProblem(limit.error(), v, call.request_id);
  const uint64_t first = static_cast<uint64_t>(std::max<int64_t>(*from, 1));
  auto events = store_.ReadJobEvents(call.principal.org, job_id, first,
                                     static_cast<size_t>(*limit) + 1);
  if (!events) return MakeProblem(events.error(), v, call.request_id);
  const bool has_more = events->size() > static_cast<size_t>(*limit);
  if (has_more) events->pop_back();
  // The version to ask for next, also on the last page, so a reader can come back.
  const uint64_t next = events->empty() ? first : events->back().version + 1;

  std::string body;
  if (WantsNdjson(call.req)) {
    for (const engine::RecordedEvent& e : *events) {
      JsonWriter line(body);
      WriteRecordedEvent(line, e);
      body.push_back('\n');
    }
    Response res = JsonText(call, http::status::ok, std::move(body));
    res.set(http::field::content_type, "application/x-ndjson");
    res.set("X-Next-From-Version", std::to_string(next));
    res.set("X-Has-More", has_more ? "true" : "false");
    return res;
  }
  JsonWriter w(body);
  w.BeginObject();
  w.Key("events").BeginArray();
  for (const engine::RecordedEvent& e : *events) WriteRecordedEvent(w, e);
  w.EndArray();
  w.Key("next_from_version").Int(static_cast<int64_t>(next));
  w.Key("has_more").Bool(has_more);
  w.EndObject();
  return JsonText(call, http::status::ok, std::move(body));
}

}  // namespace jobstate::api
