#pragma once
// Service: every route of API.md as a function of a request, with no socket.
//
// The layer stays thin: a handler parses and validates its inputs, makes one JobStore
// call, and maps the answer (or the Status) to HTTP. No state rule lives here.
//
// Thread safety: safe for concurrent use; Handle() may run on many threads at once.

#include <atomic>
#include <chrono>
#include <functional>
#include <string_view>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "api/auth.h"
#include "api/change_hub.h"
#include "api/cursor.h"
#include "api/http_types.h"
#include "api/json_events.h"
#include "api/metrics.h"
#include "api/operations.h"
#include "engine/clock.h"
#include "engine/job_store.h"
#include "engine/status_view.h"

namespace jobstate::api {

// One answered request, as the request log records it.
struct RequestRecord {
  std::string_view request_id, method, target, route;
  std::string_view key_name, org;  // empty before authentication
  unsigned status = 0;
  std::string_view body;  // the answer's body (a problem+json document for errors)
  double seconds = 0;
};

struct ServiceOptions {
  engine::ViewOptions view;
  BatchLimits batch;
  // Watch streams: at most one status per interval, and a comment line when nothing
  // was sent for keep_alive.
  std::chrono::milliseconds watch_coalesce{250};  // Default: 250 ms
  std::chrono::milliseconds watch_keep_alive{15'000};  // Default: 15 s
  // wait_for_version without timeout_ms waits this long.
  int64_t default_wait_timeout_ms = 30'000;  // Default: 30 s
  // Metrics to record into and serve on GET /metrics; none when null (not owned).
  Metrics* metrics = nullptr;
  // Where /metrics is served: with every other route (default), or on a listener of
  // its own whose service has `metrics_only` (and then the main one has
  // `serve_metrics` false).
  bool serve_metrics = true;
  bool metrics_only = false;
  // Admin operations (backup, verify); the admin routes answer 503 when null.
  Operations* operations = nullptr;
  // Called once per answered request (for the request log); may be empty.
  std::function<void(const RequestRecord&)> on_request;
};

class Service {
 public:
  // All references must outlive the service.
  Service(engine::JobStore& store, const KeyStore& keys, const engine::Clock& clock,
          const CursorCodec& cursors, ChangeHub& hub, ServiceOptions options);

  // Answers one request. Never throws; every error is a problem+json response. Waiting
  // reads hold the coroutine (not a thread) until their change, timeout or shutdown.
  boost::asio::awaitable<Reply> Handle(Request req);

  // Answers requests that failed before routing (limits, malformed HTTP).
  Response Reject(http::status status, std::string code, std::string detail,
                  unsigned version) const;

  // One request in flight: the request, its principal, its id (api/internal/call.h).
  struct Call;

  // Open watch streams.
  size_t watchers() const { return watchers_.load(); }

 private:
  class WatchStream;

  boost::asio::awaitable<Reply> Route(Call& call);
  boost::asio::awaitable<Response> PostEvents(Call& call);
  boost::asio::awaitable<Response> GetJob(Call& call, const std::string& job_id);
  Response GetJobAsOf(Call& call, const std::string& job_id);
  boost::asio::awaitable<Response> GetFeed(Call& call);
  boost::asio::awaitable<Reply> Watch(Call& call, const std::string& job_id);
  Response GetFiles(Call& call, const std::string& job_id);
  Response GetJobEvents(Call& call, const std::string& job_id);
  boost::asio::awaitable<Response> Cancel(Call& call, const std::string& job_id);
  Response ListJobs(Call& call);
  Response Ready(Call& call);
  Response StartOperation(Call& call, const std::string& kind);
  Response GetOperation(Call& call, const std::string& id);

  std::string NextRequestId() const;

  engine::JobStore& store_;
  const KeyStore& keys_;
  const engine::Clock& clock_;
  const CursorCodec& cursors_;
  ChangeHub& hub_;
  const ServiceOptions options_;
  const std::string id_prefix_;
  mutable std::atomic<uint64_t> next_id_{1};  // request ids are not state
  std::atomic<size_t> watchers_{0};
};

}  // namespace jobstate::api
