// Service's admin routes (scope admin): an online backup and verification of one job
// or all, run as operations reported with progress.
#include <charconv>
#include <filesystem>

#include "api/internal/call.h"
#include "api/json_write.h"
#include "api/operations.h"
#include "api/problem.h"
#include "api/service.h"
#include "api/time_format.h"

namespace jobstate::api {

using namespace internal;

namespace {

Response OperationResponse(const Service::Call& call, http::status status,
                           const Operations::View& op) {
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  w.Key("id").String(std::to_string(op.id));
  w.Key("kind").String(op.kind);
  w.Key("state").String(op.state);
  w.Key("started_at").String(FormatInstant(op.started_at));
  w.Key("finished_at");
  op.finished_at ? w.String(FormatInstant(*op.finished_at)) : w.Null();
  w.Key("error");
  op.error.empty() ? w.Null() : w.String(op.error);
  if (op.kind == "backup") {
    w.Key("dir").String(op.dir);
  } else {
    w.Key("job_id");
    op.job ? w.String(op.job->second) : w.Null();
    w.Key("progress").BeginObject();
    w.Key("jobs_done").Int(static_cast<int64_t>(op.done));
    w.Key("jobs_total").Int(static_cast<int64_t>(op.total));
    w.EndObject();
    w.Key("jobs_checked").Int(static_cast<int64_t>(op.jobs));
    w.Key("events_checked").Int(static_cast<int64_t>(op.events));
    w.Key("differences").BeginArray();
    for (const auto& d : op.differences) {
      w.BeginObject();
      w.Key("org").String(d.org);
      w.Key("job_id").String(d.job_id);
      w.Key("what").String(d.what);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  Response res = JsonText(call, status, std::move(body));
  res.set(http::field::location, "/v2/admin/operations/" + std::to_string(op.id));
  return res;
}

}  // namespace

Response Service::StartOperation(Call& call, const std::string& kind) {
  const unsigned v = call.req.version();
  if (!options_.operations) {
    return MakeProblem(Status::Unavailable("admin operations are not enabled on this server"), v,
                       call.request_id);
  }
  Result<Operations::View> started = Err(Status::Internal("unknown operation"));
  if (kind == "backup") {
    auto body = StringMembersBody(call, {"dir"});
    if (!body) return MakeProblem(body.error(), v, call.request_id);
    auto dir = body->find("dir");
    if (dir == body->end() || !std::filesystem::path(dir->second).is_absolute()) {
      return MakeProblem(Status::InvalidArgument("invalid_parameter",
                                                 "/dir must name an absolute path on the server")
                             .WithPointer("/dir"),
                         v, call.request_id);
    }
    started = options_.operations->StartBackup(dir->second);
  } else {
    auto body = StringMembersBody(call, {"job_id"});
    if (!body) return MakeProblem(body.error(), v, call.request_id);
    std::optional<std::pair<std::string, std::string>> job;
    if (auto it = body->find("job_id"); it != body->end()) {
      auto snap = store_.GetSnapshot(call.principal.org, it->second);  // 404 before starting
      if (!snap) return MakeProblem(snap.error(), v, call.request_id);
      job = std::make_pair(call.principal.org, it->second);
    }
    started = options_.operations->StartVerify(std::move(job));
  }
  if (!started) return MakeProblem(started.error(), v, call.request_id);
  return OperationResponse(call, http::status::accepted, *started);
}

Response Service::GetOperation(Call& call, const std::string& id) {
  const unsigned v = call.req.version();
  uint64_t n = 0;
  const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
  std::optional<Operations::View> op;
  if (options_.operations && ec == std::errc() && end == id.data() + id.size()) {
    op = options_.operations->Get(n);
  }
  if (!op) {
    return MakeProblem(Status::NotFound("operation_not_found", "no operation " + id), v,
                       call.request_id);
  }
  return OperationResponse(call, http::status::ok, *op);
}

}  // namespace jobstate::api
