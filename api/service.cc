#include "api/service.h"

#include <algorithm>
#include <chrono>

#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "api/async_append.h"
#include "api/internal/call.h"
#include "api/crypto.h"
#include "api/json_views.h"
#include "api/problem.h"
#include "api/time_format.h"
#include "engine/validate.h"

namespace jobstate::api {

namespace json = boost::json;
namespace net = boost::asio;
using engine::FileStatus;
using engine::JobStatus;

using namespace internal;

Service::Service(engine::JobStore& store, const KeyStore& keys, const engine::Clock& clock,
                 const CursorCodec& cursors, ChangeHub& hub, ServiceOptions options)
    : store_(store),
      keys_(keys),
      clock_(clock),
      cursors_(cursors),
      hub_(hub),
      options_(std::move(options)),
      id_prefix_(Hex(RandomBytes(4))) {}

std::string Service::NextRequestId() const {
  return id_prefix_ + "-" + std::to_string(next_id_.fetch_add(1));
}

Response Service::Reject(http::status status, std::string code, std::string detail,
                         unsigned version) const {
  return MakeProblem(status, std::move(code), std::move(detail), version,
                     NextRequestId());
}

net::awaitable<Reply> Service::Handle(Request req) {
  const auto start = std::chrono::steady_clock::now();
  Call call{std::move(req), NextRequestId(), {}, {}, {}};
  std::optional<Reply> reply;
  try {
    reply.emplace(co_await Route(call));
  } catch (const std::exception& ex) {
    reply.emplace(MakeProblem(Status::Internal(ex.what()), call.req.version(), call.request_id));
  }
  reply->res.set("X-Request-Id", call.request_id);
  reply->res.keep_alive(call.req.keep_alive());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const unsigned status = reply->res.result_int();
  if (options_.metrics) options_.metrics->ObserveRequest(call.route, status, seconds);
  if (options_.on_request) {
    options_.on_request({call.request_id, call.req.method_string(), call.req.target(), call.route,
                         call.principal.name, call.principal.org, status, reply->res.body(),
                         seconds});
  }
  co_return std::move(*reply);
}

net::awaitable<Reply> Service::Route(Call& call) {
  const Request& req = call.req;
  const unsigned v = req.version();
  auto target = boost::urls::parse_origin_form(req.target());
  if (!target) {
    co_return MakeProblem(http::status::bad_request, "invalid_target",
                          "the request target is not a valid path and query", v, call.request_id);
  }
  for (auto seg : target->segments()) call.segments.push_back(seg);
  for (auto param : target->params()) call.query[param.key] = param.value;
  const auto& s = call.segments;

  // (route, methods allowed, scope); the job id is s[2] where there is one.
  enum class R { kHealth, kReady, kMetrics, kEvents, kJobs, kJob, kFiles, kCancel, kHistory, kWatch,
                 kAdminStart, kAdminOperation, kNone };
  R route = R::kNone;
  if (s.size() == 1 && s[0] == "healthz") route = R::kHealth;
  if (s.size() == 1 && s[0] == "readyz") route = R::kReady;
  if (s.size() == 1 && s[0] == "metrics" && options_.metrics && options_.serve_metrics) {
    route = R::kMetrics;
  }
  if (s.size() >= 2 && s[0] == "v2" && !options_.metrics_only) {
    if (s.size() == 2 && s[1] == "events") route = R::kEvents;
    if (s.size() == 2 && s[1] == "jobs") route = R::kJobs;
    if (s.size() == 3 && s[1] == "jobs") route = R::kJob;
    if (s.size() == 4 && s[1] == "jobs" && s[3] == "files") route = R::kFiles;
    if (s.size() == 4 && s[1] == "jobs" && s[3] == "cancel") route = R::kCancel;
    if (s.size() == 4 && s[1] == "jobs" && s[3] == "events") route = R::kHistory;
    if (s.size() == 4 && s[1] == "jobs" && s[3] == "watch") route = R::kWatch;
    if (s.size() == 3 && s[1] == "admin" && (s[2] == "backup" || s[2] == "verify")) {
      route = R::kAdminStart;
    }
    if (s.size() == 4 && s[1] == "admin" && s[2] == "operations") route = R::kAdminOperation;
  }
  static constexpr const char* kTemplates[] = {
      "/healthz", "/readyz", "/metrics", "/v2/events", "/v2/jobs", "/v2/jobs/{job_id}",
      "/v2/jobs/{job_id}/files", "/v2/jobs/{job_id}/cancel", "/v2/jobs/{job_id}/events",
      "/v2/jobs/{job_id}/watch", "/v2/admin/{operation}", "/v2/admin/operations/{id}", "unrouted"};
  call.route = kTemplates[static_cast<size_t>(route)];
  const http::verb m = req.method();
  // HEAD is GET without the body (RFC 9110, 9.3.2): routed, authorized and answered as
  // GET, and the server writes only the head.
  const bool get = m == http::verb::get || m == http::verb::head;
  struct Rule {
    const char* allow;
    bool ok;
    const char* scope;
  };
  Rule rule{"", false, nullptr};
  switch (route) {
    case R::kHealth: rule = {"GET, HEAD", get, nullptr}; break;
    case R::kReady: rule = {"GET, HEAD", get, nullptr}; break;
    case R::kMetrics: rule = {"GET, HEAD", get, nullptr}; break;
    case R::kEvents:
      rule = {"GET, HEAD, POST", get || m == http::verb::post,
              get ? kScopeHistoryRead : kScopeEventsWrite};
      break;
    case R::kJobs: rule = {"GET, HEAD", get, kScopeJobsRead}; break;
    case R::kJob:
      rule = {"GET, HEAD, DELETE", get || m == http::verb::delete_,
              get ? kScopeJobsRead : kScopeJobsCancel};
      break;
    case R::kFiles: rule = {"GET, HEAD", get, kScopeJobsRead}; break;
    case R::kCancel: rule = {"POST", m == http::verb::post, kScopeJobsCancel}; break;
    case R::kHistory: rule = {"GET, HEAD", get, kScopeHistoryRead}; break;
    case R::kWatch: rule = {"GET, HEAD", get, kScopeJobsRead}; break;
    case R::kAdminStart: rule = {"POST", m == http::verb::post, kScopeAdmin}; break;
    case R::kAdminOperation: rule = {"GET, HEAD", get, kScopeAdmin}; break;
    case R::kNone:
      co_return MakeProblem(http::status::not_found, "route_not_found",
                            "no route " + std::string(req.target()), v, call.request_id);
  }
  if (!rule.ok) {
    Response res = MakeProblem(http::status::method_not_allowed, "method_not_allowed",
                               std::string(req.method_string()) + " is not allowed here", v,
                               call.request_id);
    res.set(http::field::allow, rule.allow);
    co_return res;
  }
  if (route == R::kHealth) co_return Json(call, http::status::ok, json::object{{"status", "ok"}});
  if (route == R::kReady) co_return Ready(call);
  if (route == R::kMetrics) {
    Response res{http::status::ok, v};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = options_.metrics->Render(store_.GetStats());
    res.prepare_payload();
    co_return res;
  }

  // Authentication, then the route's scope. Two Authorization fields are refused rather
  // than one picked: a proxy in front may have read the other.
  if (req.count(http::field::authorization) > 1) {
    co_return MakeProblem(http::status::bad_request, "malformed_request",
                          "the request has more than one Authorization header", v,
                          call.request_id);
  }
  const std::string_view auth = req[http::field::authorization];
  std::optional<Principal> who;
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
    who = keys_.Authenticate(auth.substr(7));
  }
  if (!who) {
    Response res = MakeProblem(http::status::unauthorized, "unauthorized",
                               auth.empty() ? "an Authorization: Bearer key is required"
                                            : "the API key is not valid",
                               v, call.request_id);
    res.set(http::field::www_authenticate, "Bearer");
    co_return res;
  }
  if (!who->Has(rule.scope)) {
    co_return MakeProblem(http::status::forbidden, "forbidden",
                          "the API key lacks the scope " + std::string(rule.scope), v,
                          call.request_id);
  }
  call.principal = std::move(*who);
  // Bodies are read as they are sent: a coded one (gzip, ...) would reach the JSON parser
  // as binary and be answered as malformed JSON, which would mislead.
  if (const std::string_view coding = req[http::field::content_encoding];
      !coding.empty() && !boost::beast::iequals(coding, "identity")) {
    Response res = MakeProblem(http::status::unsupported_media_type,
                               "unsupported_content_encoding",
                               "Content-Encoding " + std::string(coding) +
                                   " is not supported: send the body uncompressed",
                               v, call.request_id);
    res.set(http::field::accept_encoding, "identity");
    co_return res;
  }
  switch (route) {
    case R::kEvents:
      if (get) co_return co_await GetFeed(call);
      co_return co_await PostEvents(call);
    case R::kJobs: co_return ListJobs(call);
    case R::kJob:
      if (m == http::verb::delete_) co_return co_await Cancel(call, s[2]);
      co_return co_await GetJob(call, s[2]);
    case R::kFiles: co_return GetFiles(call, s[2]);
    case R::kCancel: co_return co_await Cancel(call, s[2]);
    case R::kHistory: co_return GetJobEvents(call, s[2]);
    case R::kWatch: co_return co_await Watch(call, s[2]);
    case R::kAdminStart: co_return StartOperation(call, s[2]);
    case R::kAdminOperation: co_return GetOperation(call, s[3]);
    default: break;
  }
  co_return MakeProblem(Status::Internal("unrouted request"), v, call.request_id);
}

Response Service::Ready(Call& call) {
  Status s = store_.CheckWritable();
  if (!s.ok()) return MakeProblem(s, call.req.version(), call.request_id);
  return Json(call, http::status::ok, json::object{{"status", "ready"}});
}

net::awaitable<Response> Service::PostEvents(Call& call) {
  const unsigned v = call.req.version();
  const std::string type = MediaType(call.req);
  if (type != "application/json" && type != "application/x-ndjson") {
    co_return MakeProblem(http::status::unsupported_media_type, "unsupported_media_type",
                          "send application/json or application/x-ndjson", v, call.request_id);
  }
  auto events = type == "application/json" ? ParseJsonBatch(call.req.body(), options_.batch)
                                           : ParseNdjsonBatch(call.req.body(), options_.batch);
  if (!events) co_return MakeProblem(events.error(), v, call.request_id);
  std::vector<engine::EventType> types;  // for the metrics; the events move on
  if (options_.metrics) {
    types.reserve(events->size());
    for (const engine::Event& e : *events) types.push_back(e.type());
  }
  engine::AppendRequest request{call.principal.org, call.principal.name, std::move(*events), {}};
  Result<engine::AppendResult> r =
      co_await AsyncAppend(store_, std::move(request), net::use_awaitable);
  if (!r) {
    if (options_.metrics && r.error().code() == StatusCode::kResourceExhausted) {
      options_.metrics->ObserveQueueFull();
    }
    co_return MakeProblem(r.error(), v, call.request_id);
  }
  if (options_.metrics) options_.metrics->ObserveBatch(types, *r);
  // Written straight out: a batch of 100 is 100 result objects, which a DOM would
  // first build and then walk.
  std::string body;
  body.reserve(64 + 192 * r->results.size());
  JsonWriter w(body);
  w.BeginObject();
  w.Key("appended").Int(r->appended);
  w.Key("duplicates").Int(r->duplicates);
  w.Key("results").BeginArray();
  char instant[kInstantChars];
  for (const engine::AppendedEvent& a : r->results) {
    w.BeginObject();
    w.Key("event_id").String(a.event_id);
    w.Key("job_id").String(a.job_id);
    w.Key("version").Int(static_cast<int64_t>(a.version));
    w.Key("position").Int(static_cast<int64_t>(a.position));
    w.Key("recorded_at").String(FormatInstant(a.recorded_at, instant));
    w.Key("duplicate").Bool(a.duplicate);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  co_return JsonText(call, http::status::ok, std::move(body));
}

}  // namespace jobstate::api
