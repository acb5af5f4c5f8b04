// Service's job routes: the status, file pages, the listing and cancel.
#include <charconv>
#include <cstdio>
#include <limits>

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "api/async_append.h"
#include "api/crypto.h"
#include "api/internal/call.h"
#include "api/json_views.h"
#include "api/json_write.h"
#include "api/problem.h"
#include "api/service.h"
#include "api/time_format.h"
#include "engine/status_view.h"
#include "engine/validate.h"

namespace jobstate::api {

namespace json = boost::json;
namespace net = boost::asio;
using namespace internal;
using engine::FileStatus;
using engine::JobStatus;

namespace {

constexpr char kSep = '\0';

// A file page as asked for by either file route's parameters.
struct FilePageAsk {
  engine::FileQuery query;
  std::string filter;  // canonical status filter ("" when none)
};

std::string FileCursor(const Service::Call& call, const std::string& job_id,
                       const std::string& filter, uint64_t after) {
  return std::string("f") + kSep + call.principal.org + kSep + job_id + kSep + filter + kSep +
         std::to_string(after);
}

Result<FilePageAsk> ParseFilePage(const Service::Call& call, const CursorCodec& cursors,
                                  const std::string& job_id, const std::string& limit_name,
                                  const std::string& cursor_name,
                                  const std::string& status_name) {
  FilePageAsk ask;
  auto limit = IntParam(call, limit_name, 50, 1, 500);
  if (!limit) return Err(limit.error());
  ask.query.limit = static_cast<size_t>(*limit);
  auto statuses = ListParam<FileStatus>(call, status_name, engine::ParseFileStatus, ask.filter);
  if (!statuses) return Err(statuses.error());
  ask.query.statuses = std::move(*statuses);
  if (const std::string* cursor = call.Param(cursor_name)) {
    const auto payload = cursors.Decode(*cursor);
    const std::string prefix = FileCursor(call, job_id, ask.filter, 0);
    const std::string bound = prefix.substr(0, prefix.size() - 1);  // without the ordinal
    uint64_t after = 0;
    if (!payload || payload->compare(0, bound.size(), bound) != 0 ||
        std::from_chars(payload->data() + bound.size(), payload->data() + payload->size(), after)
                .ec != std::errc()) {
      Status s = Status::InvalidArgument(
          "invalid_cursor", "the cursor is not one this job and filter handed out");
      s.WithPointer("/" + cursor_name);
      return Err(std::move(s));
    }
    ask.query.after_ordinal = after;
  }
  return ask;
}

std::optional<std::string> NextFileCursor(const Service::Call& call, const CursorCodec& cursors,
                                          const std::string& job_id, const FilePageAsk& ask,
                                          const engine::FilePage& page) {
  if (!page.has_more || page.rows.empty()) return std::nullopt;
  return cursors.Encode(FileCursor(call, job_id, ask.filter, page.rows.back().ordinal));
}

std::string ETag(uint64_t version) { return "\"" + std::to_string(version) + "\""; }

// 304 when the client's If-None-Match names this version.
std::optional<Response> NotModified(const Service::Call& call, const std::string& etag) {
  if (!IfNoneMatchNames(call.req, etag)) return std::nullopt;
  Response res{http::status::not_modified, call.req.version()};
  res.set(http::field::etag, etag);
  return res;
}

Response StatusBody(const Service::Call& call, uint64_t version, std::string body) {
  Response res = JsonText(call, http::status::ok, std::move(body));
  res.set(http::field::etag, ETag(version));
  return res;
}

// The members "files" and "files_page" of a status (its files page), rendered alone.
std::string FilesPageText(const Service::Call& call, const CursorCodec& cursors,
                          const std::string& job_id, const FilePageAsk& ask,
                          const engine::FilePage& page) {
  std::string text;
  text.reserve(256 + 700 * page.rows.size());
  JsonWriter w(text);
  w.BeginObject();  // only to open a container for the members; dropped below
  WriteFilesPageMembers(w, page, ask.query.limit,
                        NextFileCursor(call, cursors, job_id, ask, page), ask.filter);
  w.EndObject();
  return text.substr(1, text.size() - 2);
}

// The status body of GET /v2/jobs/{id}, with its ETag, or 304 when the client's
// If-None-Match names this version. `files_page` is the page's text (FilesPageText).
Response StatusResponse(const Service::Call& call, const engine::JobStore& store,
                        const engine::JobSnapshot& job, std::string_view files_page,
                        engine::Millis at, bool historical,
                        const engine::ViewOptions& view_options) {
  if (auto res = NotModified(call, ETag(job.version))) return std::move(*res);
  const auto view = engine::ReadStatusView(store, job, at, historical, view_options);
  if (!view) return MakeProblem(view.error(), call.req.version(), call.request_id);
  std::string body;
  body.reserve(4096 + files_page.size());
  JsonWriter w(body);
  w.BeginObject();
  WriteStatusMembers(w, *view);
  w.EndObject();
  body.back() = ',';  // the page's members follow the status's
  body.append(files_page);
  body.push_back('}');
  return StatusBody(call, job.version, std::move(body));
}

// About the memory a running job's snapshot holds, for the status cache's bound.
size_t SnapshotBytes(const engine::JobSnapshot& s) {
  size_t n = sizeof s + s.org.size() + s.job_id.size() + s.collection_name.size() +
             s.metadata_json.value_or("").size() + s.progress_message.value_or("").size();
  for (const std::string& w : s.worker_ids) n += sizeof w + w.size();
  for (const auto& [type, stats] : s.eta.types) n += sizeof stats + type.size() + 64;
  return n;
}

// The page's parameters in one canonical form, the status cache's key within a job.
std::string CacheQuery(const FilePageAsk& ask) {
  return std::to_string(ask.query.limit) + kSep +
         (ask.query.after_ordinal ? std::to_string(*ask.query.after_ordinal) : "-") + kSep +
         ask.filter;
}

}  // namespace

net::awaitable<Response> Service::GetJob(Call& call, const std::string& job_id) {
  const unsigned v = call.req.version();
  if (call.Param("as_of_version") || call.Param("as_of")) co_return GetJobAsOf(call, job_id);
  auto ask = ParseFilePage(call, cursors_, job_id, "files_limit", "files_cursor", "files_status");
  if (!ask) co_return MakeProblem(ask.error(), v, call.request_id);

  // wait_for_version=N holds the request until the version exceeds N or the timeout.
  std::optional<uint64_t> wait_for;
  std::unique_ptr<ChangeHub::Subscription> sub;
  ChangeHub::Clock::time_point deadline{};
  if (call.Param("wait_for_version")) {
    auto n = IntParam(call, "wait_for_version", 0, std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::max());
    if (n && *n < 0) n = Err(InvalidParameter("wait_for_version", "must not be negative"));
    if (!n) co_return MakeProblem(n.error(), v, call.request_id);
    auto timeout = IntParam(call, "timeout_ms", options_.default_wait_timeout_ms, 0, 60'000);
    if (!timeout) co_return MakeProblem(timeout.error(), v, call.request_id);
    wait_for = static_cast<uint64_t>(*n);
    deadline = ChangeHub::Clock::now() + std::chrono::milliseconds(*timeout);
    sub = hub_.ForJob(call.principal.org, job_id, co_await net::this_coro::executor);
  } else if (call.Param("timeout_ms")) {
    co_return MakeProblem(InvalidParameter("timeout_ms", "applies only with wait_for_version"),
                          v, call.request_id);
  }
  // A final job's status is a function of its version and the page asked for: served
  // from the hub's cache while no commit of the job has been published since; a running
  // job's status also of the instant and the priors, and served from the cache to the
  // reads of the same millisecond. Any job's files page is a function of its version and
  // the page asked for: taken from the cache when the job is still at the version it was
  // rendered at.
  StatusCache& cache = hub_.status_cache();
  const std::string cache_query = CacheQuery(*ask);
  // A running job's body rendered at `now`, offered to the cache. `now` is taken after
  // the job was read, as it always was, so no event it shows is later than the read.
  auto render_running = [&](const engine::JobSnapshot& job, const std::string& files_page,
                            engine::Millis now, uint64_t mark) {
    Response res =
        StatusResponse(call, store_, job, files_page, now, false, options_.view);
    if (res.result() == http::status::ok) {
      cache.InsertAt(call.principal.org, job_id, cache_query, job.version, now,
                     res.body(), mark);
    }
    return res;
  };
  for (;;) {
    if (sub) sub->Rearm();
    const engine::Millis now = clock_.NowMillis();
    if (auto hit = cache.Find(call.principal.org, job_id, cache_query, now);
        hit && (!sub || hit->version > *wait_for)) {
      if (auto res = NotModified(call, ETag(hit->version))) co_return std::move(*res);
      co_return StatusBody(call, hit->version, std::move(hit->body));
    }
    const uint64_t mark = cache.Mark();  // before anything else of the job is read
    // A running job with no commit since its snapshot was cached, and its page cached
    // at the same version: rendered without reading the job from the store.
    auto cached_page = cache.FindPage(call.principal.org, job_id, cache_query);
    if (auto job = cached_page ? cache.FindJob(call.principal.org, job_id) : nullptr;
        job && job->version == cached_page->version && (!sub || job->version > *wait_for)) {
      if (auto res = NotModified(call, ETag(job->version))) co_return std::move(*res);
      cache.NotePage(true);
      co_return render_running(*job, *cached_page->text, clock_.NowMillis(), mark);
    }
    engine::FileQuery query = ask->query;
    if (cached_page) query.unless_version = cached_page->version;
    auto page = store_.ListFiles(call.principal.org, job_id, query);
    if (!page) co_return MakeProblem(page.error(), v, call.request_id);
    if (!sub || page->job.version > *wait_for || sub->closed() ||
        !co_await sub->Wait(deadline)) {
      if (auto res = NotModified(call, ETag(page->job.version))) co_return std::move(*res);
      cache.NotePage(page->rows_skipped);
      std::shared_ptr<const std::string> files_page;
      if (page->rows_skipped) {
        files_page = std::move(cached_page->text);
      } else {
        files_page = std::make_shared<const std::string>(
            FilesPageText(call, cursors_, job_id, *ask, *page));
        if (!engine::IsFinal(page->job.status)) {  // a final job's whole body is cached below
          cache.InsertPage(call.principal.org, job_id, cache_query, page->job.version, files_page);
        }
      }
      if (!engine::IsFinal(page->job.status)) {
        cache.InsertJob(call.principal.org, job_id,
                        std::make_shared<const engine::JobSnapshot>(page->job),
                        SnapshotBytes(page->job), mark);
        co_return render_running(page->job, *files_page, clock_.NowMillis(), mark);
      }
      Response res = StatusResponse(call, store_, page->job, *files_page, clock_.NowMillis(),
                                    false, options_.view);
      if (res.result() == http::status::ok) {
        cache.Insert(call.principal.org, job_id, cache_query, page->job.version, res.body(),
                     mark);
      }
      co_return res;
    }
  }
}

Response Service::GetJobAsOf(Call& call, const std::string& job_id) {
  const unsigned v = call.req.version();
  if (!call.principal.Has(kScopeHistoryRead)) {
    return MakeProblem(http::status::forbidden, "forbidden",
                       "time travel needs the scope " + std::string(kScopeHistoryRead), v,
                       call.request_id);
  }
  const std::string* version = call.Param("as_of_version");
  const std::string* instant = call.Param("as_of");
  if (version && instant) {
    return MakeProblem(InvalidParameter("as_of", "cannot be combined with as_of_version"), v,
                       call.request_id);
  }
  if (call.Param("wait_for_version")) {
    return MakeProblem(
        InvalidParameter("wait_for_version", "cannot be combined with time travel"), v,
        call.request_id);
  }
  engine::AsOf as_of;
  if (version) {
    auto n = IntParam(call, "as_of_version", 0, std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::max());
    if (n && *n < 0) n = Err(InvalidParameter("as_of_version", "must not be negative"));
    if (!n) return MakeProblem(n.error(), v, call.request_id);
    as_of.version = static_cast<uint64_t>(*n);
  } else {
    as_of.instant = ParseInstant(*instant);
    if (!as_of.instant) {
      return MakeProblem(InvalidParameter("as_of", "is not an RFC 3339 instant"), v,
                         call.request_id);
    }
  }
  auto ask = ParseFilePage(call, cursors_, job_id, "files_limit", "files_cursor", "files_status");
  if (!ask) return MakeProblem(ask.error(), v, call.request_id);
  auto read = store_.ReadAsOf(call.principal.org, job_id, as_of, ask->query);
  if (!read) return MakeProblem(read.error(), v, call.request_id);
  return StatusResponse(call, store_, read->page.job,
                        FilesPageText(call, cursors_, job_id, *ask, read->page), read->at, true,
                        options_.view);
}

Response Service::GetFiles(Call& call, const std::string& job_id) {
  const unsigned v = call.req.version();
  auto ask = ParseFilePage(call, cursors_, job_id, "limit", "cursor", "status");
  if (!ask) return MakeProblem(ask.error(), v, call.request_id);
  // A page is a function of the job's version and the query, so the version is its
  // ETag too, and a client polling one page gets 304 until the job changes, without
  // the rows being read when its If-None-Match names the version.
  engine::FileQuery query = ask->query;
  query.unless_version = IfNoneMatchVersion(call.req);
  auto page = store_.ListFiles(call.principal.org, job_id, query);
  if (!page) return MakeProblem(page.error(), v, call.request_id);
  if (auto res = NotModified(call, ETag(page->job.version))) return std::move(*res);
  if (page->rows_skipped) {  // the header named the version but is not a valid list
    page = store_.ListFiles(call.principal.org, job_id, ask->query);
    if (!page) return MakeProblem(page.error(), v, call.request_id);
  }
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  WriteFilesPageMembers(w, *page, ask->query.limit,
                        NextFileCursor(call, cursors_, job_id, *ask, *page), ask->filter);
  w.EndObject();
  return StatusBody(call, page->job.version, std::move(body));
}

Response Service::ListJobs(Call& call) {
  const unsigned v = call.req.version();
  engine::JobQuery q;
  std::string filter;
  auto limit = IntParam(call, "limit", 50, 1, 500);
  if (!limit) return MakeProblem(limit.error(), v, call.request_id);
  q.limit = static_cast<size_t>(*limit);
  auto statuses = ListParam<JobStatus>(call, "status", engine::ParseJobStatus, filter);
  if (!statuses) return MakeProblem(statuses.error(), v, call.request_id);
  q.statuses = std::move(*statuses);
  filter += kSep;
  if (const std::string* c = call.Param("collection_name")) q.collection_name = *c;
  if (const std::string* t = call.Param("job_type")) {
    q.job_type = engine::ParseJobType(*t);
    if (!q.job_type) {
      return MakeProblem(InvalidParameter("job_type", "has an unknown value"), v, call.request_id);
    }
  }
  for (const char* name : {"created_after", "created_before"}) {
    const std::string* text = call.Param(name);
    if (!text) continue;
    const auto t = ParseInstant(*text);
    if (!t) {
      return MakeProblem(InvalidParameter(name, "must be an RFC 3339 instant"), v, call.request_id);
    }
    (std::string(name) == "created_after" ? q.created_after : q.created_before) = *t;
  }
  filter += q.collection_name.value_or("") + kSep +
            (q.job_type ? std::string(engine::Name(*q.job_type)) : "") + kSep +
            (q.created_after ? std::to_string(*q.created_after) : "") + kSep +
            (q.created_before ? std::to_string(*q.created_before) : "") + kSep;
  const std::string bound = std::string("j") + kSep + call.principal.org + kSep + filter;
  if (const std::string* cursor = call.Param("cursor")) {
    const auto payload = cursors_.Decode(*cursor);
    long long created = 0;
    unsigned long long jid = 0;
    if (!payload || payload->compare(0, bound.size(), bound) != 0 ||
        std::sscanf(payload->c_str() + bound.size(), "%lld:%llu", &created, &jid) != 2) {
      Status s = Status::InvalidArgument("invalid_cursor",
                                         "the cursor is not one this listing handed out");
      s.WithPointer("/cursor");
      return MakeProblem(s, v, call.request_id);
    }
    q.after = std::make_pair(static_cast<engine::Millis>(created), static_cast<uint64_t>(jid));
  }
  auto page = store_.ListJobs(call.principal.org, q);
  if (!page) return MakeProblem(page.error(), v, call.request_id);
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  w.Key("jobs").BeginArray();
  const engine::Millis now = clock_.NowMillis();
  for (const engine::JobSnapshot& job : page->jobs) {
    auto view = engine::ReadStatusView(store_, job, now, false, options_.view);
    if (!view) return MakeProblem(view.error(), v, call.request_id);
    w.BeginObject();
    WriteStatusMembers(w, *view);
    w.EndObject();
  }
  w.EndArray();
  w.Key("next_cursor");
  if (page->next) {
    w.String(cursors_.Encode(bound + std::to_string(page->next->first) + ":" +
                             std::to_string(page->next->second)));
  } else {
    w.Null();
  }
  w.Key("has_more").Bool(page->next.has_value());
  w.EndObject();
  return JsonText(call, http::status::ok, std::move(body));
}

net::awaitable<Response> Service::Cancel(Call& call, const std::string& job_id) {
  const unsigned v = call.req.version();
  auto body = StringMembersBody(call, {"reason"});
  if (!body) co_return MakeProblem(body.error(), v, call.request_id);
  std::optional<std::string> reason;
  if (auto it = body->find("reason"); it != body->end()) reason = it->second;
  // Checked here, where the problem can name the body's own field: the event built
  // below would be refused as /events/0/data/reason, which this client never sent.
  if (reason && reason->size() > engine::Limits::kMaxLongText) {
    co_return MakeProblem(Status::InvalidArgument(
                              "invalid_parameter",
                              "/reason is longer than " +
                                  std::to_string(engine::Limits::kMaxLongText) + " bytes")
                              .WithPointer("/reason"),
                          v, call.request_id);
  }
  auto answer_final = [&](const engine::JobSnapshot& job) {
    return Json(call, http::status::ok,
                json::object{{"job_id", job_id},
                             {"status", engine::Name(job.status)},
                             {"message", "the job is already " + std::string(engine::Name(job.status)) +
                                             "; nothing was cancelled"},
                             {"cancelled_at", job.cancelled_at ? json::value(FormatInstant(*job.cancelled_at))
                                                               : json::value(nullptr)}});
  };
  auto job = store_.GetSnapshot(call.principal.org, job_id);
  if (!job) co_return MakeProblem(job.error(), v, call.request_id);
  if (engine::IsFinal(job->status)) co_return answer_final(*job);

  const engine::Millis at = clock_.NowMillis();
  engine::Event e;
  e.event_id = api::NewUuid();
  e.job_id = job_id;
  e.occurred_at = at;
  e.data = engine::JobCancelled{call.principal.name, reason};
  engine::AppendRequest request{call.principal.org, call.principal.name, {std::move(e)}, {}};
  auto r = co_await AsyncAppend(store_, std::move(request), net::use_awaitable);
  if (!r && r.error().details().reason == "job_final") {
    // It ended between our read and our append: answer with what it became.
    auto now_final = store_.GetSnapshot(call.principal.org, job_id);
    if (!now_final) co_return MakeProblem(now_final.error(), v, call.request_id);
    co_return answer_final(*now_final);
  }
  if (!r) co_return MakeProblem(r.error(), v, call.request_id);
  co_return Json(call, http::status::ok,
                 json::object{{"job_id", job_id},
                              {"status", "cancelled"},
                              {"message", "the job was cancelled"},
                              {"cancelled_at", FormatInstant(at)}});
}

}  // namespace jobstate::api
