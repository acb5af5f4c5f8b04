// Service's history and live routes: a job's stream as stored, the organisation's
// feed (with long-polling), and the watch stream (Server-Sent Events).
#include <charconv>
#include <limits>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "api/internal/call.h"
#include "api/json_events.h"
#include "api/json_write.h"
#include "api/problem.h"
#include "api/json_views.h"
#include "api/service.h"
#include "engine/status_view.h"

namespace jobstate::api {

namespace net = boost::asio;
using namespace internal;

namespace {

bool WantsNdjson(const Request& req) {
  return std::string_view(req[http::field::accept]).find("application/x-ndjson") !=
         std::string_view::npos;
}

// A non-negative integer parameter (no upper clamp), or `fallback` when absent.
Result<uint64_t> NonNegativeParam(const Service::Call& call, const std::string& name,
                                  uint64_t fallback) {
  auto n = IntParam(call, name, static_cast<int64_t>(fallback),
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
  if (!n) return Err(n.error());
  if (*n < 0) return Err(InvalidParameter(name, "must not be negative"));
  return static_cast<uint64_t>(*n);
}

}  // namespace

Response Service::GetJobEvents(Call& call, const std::string& job_id) {
  const unsigned v = call.req.version();
  auto from = NonNegativeParam(call, "from_version", 1);
  auto limit = IntParam(call, "limit", 1000, 1, 10'000);
  if (!from) return MakeProblem(from.error(), v, call.request_id);
  if (!limit) return MakeProblem(limit.error(), v, call.request_id);
  const uint64_t first = std::max<uint64_t>(*from, 1);
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

net::awaitable<Response> Service::GetFeed(Call& call) {
  const unsigned v = call.req.version();
  auto from = NonNegativeParam(call, "from_position", 0);
  auto limit = IntParam(call, "limit", 1000, 1, 10'000);
  auto wait = IntParam(call, "wait_ms", 0, 0, 60'000);
  for (const auto* r : {&limit, &wait}) {
    if (!*r) co_return MakeProblem(r->error(), v, call.request_id);
  }
  if (!from) co_return MakeProblem(from.error(), v, call.request_id);

  // Subscribe before reading, so that a commit between the read and the wait wakes it.
  std::unique_ptr<ChangeHub::Subscription> sub;
  if (*wait > 0) sub = hub_.ForOrg(call.principal.org, co_await net::this_coro::executor);
  const auto deadline = ChangeHub::Clock::now() + std::chrono::milliseconds(*wait);
  std::vector<engine::RecordedEvent> events;
  for (;;) {
    if (sub) sub->Rearm();
    auto read = store_.ReadOrgLog(call.principal.org, *from, static_cast<size_t>(*limit) + 1);
    if (!read) co_return MakeProblem(read.error(), v, call.request_id);
    events = std::move(*read);
    if (!events.empty() || !sub || sub->closed() || !co_await sub->Wait(deadline)) break;
  }
  const bool has_more = events.size() > static_cast<size_t>(*limit);
  if (has_more) events.pop_back();
  const uint64_t next = events.empty() ? *from : events.back().position;

  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  w.Key("events").BeginArray();
  for (const engine::RecordedEvent& e : events) WriteRecordedEvent(w, e);
  w.EndArray();
  w.Key("next_from_position").Int(static_cast<int64_t>(next));
  w.Key("has_more").Bool(has_more);
  w.EndObject();
  co_return JsonText(call, http::status::ok, std::move(body));
}

// The body of GET /v2/jobs/{id}/watch: one `status` event at once (unless the client
// already has this version), then one per change, at most one per coalescing interval,
// a comment when nothing was sent for the keep-alive interval, and the end after a
// final status.
class Service::WatchStream final : public BodyStream {
 public:
  WatchStream(Service& service, std::string org, std::string job_id,
              std::optional<uint64_t> last_sent,
              std::unique_ptr<ChangeHub::Subscription> sub, net::any_io_executor ex)
      : service_(service),
        org_(std::move(org)),
        job_id_(std::move(job_id)),
        last_sent_(last_sent),
        sub_(std::move(sub)),
        pause_(ex) {
    ++service_.watchers_;
  }
  ~WatchStream() override { --service_.watchers_; }

  net::awaitable<std::optional<std::string>> Next() override {
    using Clock = ChangeHub::Clock;
    for (;;) {
      if (done_ || sub_->closed()) co_return std::nullopt;
      sub_->Rearm();
      auto snap = service_.store_.GetSnapshot(org_, job_id_);
      if (!snap) co_return std::nullopt;  // jobs are never removed; storage failed
      if (snap->version != last_sent_) {
        // Coalesce: at most one status per interval; later changes fold into it.
        const auto earliest = last_event_ + service_.options_.watch_coalesce;
        if (last_sent_ && Clock::now() < earliest) {
          pause_.expires_at(earliest);
          co_await pause_.async_wait(net::as_tuple(net::use_awaitable));
          continue;  // read again: the status may have moved on meanwhile
        }
        last_sent_ = snap->version;
        last_event_ = last_write_ = Clock::now();
        done_ = engine::IsFinal(snap->status);
        co_return Event(*snap);
      }
      if (engine::IsFinal(snap->status)) co_return std::nullopt;  // the client has it
      const bool changed = co_await sub_->Wait(last_write_ + service_.options_.watch_keep_alive);
      if (!changed) {
        last_write_ = Clock::now();
        co_return std::string(": keep-alive\n\n");
      }
    }
  }

 private:
  // The status event of `snap`; nullopt when storage fails (the stream ends).
  std::optional<std::string> Event(const engine::JobSnapshot& snap) const {
    const auto view = engine::ReadStatusView(service_.store_, snap, service_.clock_.NowMillis(),
                                             false, service_.options_.view);
    if (!view) return std::nullopt;
    std::string out = "event: status\nid: " + std::to_string(snap.version) + "\ndata: ";
    JsonWriter w(out);
    w.BeginObject();
    WriteStatusMembers(w, *view);
    w.EndObject();
    out += "\n\n";
    return out;
  }

  Service& service_;
  const std::string org_, job_id_;
  std::optional<uint64_t> last_sent_;
  std::unique_ptr<ChangeHub::Subscription> sub_;
  net::steady_timer pause_;
  ChangeHub::Clock::time_point last_event_{}, last_write_ = ChangeHub::Clock::now();
  bool done_ = false;
};

net::awaitable<Reply> Service::Watch(Call& call, const std::string& job_id) {
  const unsigned v = call.req.version();
  std::optional<uint64_t> last_id;
  const std::string_view header = call.req["Last-Event-ID"];
  if (!header.empty()) {
    uint64_t id = 0;
    const auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), id);
    if (ec != std::errc() || end != header.data() + header.size()) {
      co_return MakeProblem(
          Status::InvalidArgument("invalid_parameter",
                                  "Last-Event-ID must be a version (a non-negative integer)"),
          v, call.request_id);
    }
    last_id = id;
  }
  const auto ex = co_await net::this_coro::executor;
  auto sub = hub_.ForJob(call.principal.org, job_id, ex);
  auto snap = store_.GetSnapshot(call.principal.org, job_id);  // 404 before streaming
  if (!snap) co_return MakeProblem(snap.error(), v, call.request_id);

  Response head{http::status::ok, v};
  head.set(http::field::content_type, "text/event-stream");
  head.set(http::field::cache_control, "no-cache");
  head.set("X-Accel-Buffering", "no");  // tell reverse proxies not to buffer the stream
  co_return Reply(std::move(head), std::make_unique<WatchStream>(*this, call.principal.org, job_id,
                                                                 last_id, std::move(sub), ex));
}

}  // namespace jobstate::api
