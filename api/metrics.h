#pragma once
// Metrics: the Prometheus metrics of API.md, kept in a prometheus-cpp registry and
// rendered by its text serializer for our own `GET /metrics`. Names and units follow
// Prometheus conventions (`_total` counters, `_seconds` and `_bytes` units).
//
// Thread safety: safe for concurrent use (prometheus-cpp's metrics are atomic; the
// families' label maps take their own lock).

#include <array>
#include <functional>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <string_view>

#include "api/status_cache.h"
#include "engine/append.h"
#include "engine/event.h"
#include "engine/query.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace jobstate::api {

class Metrics {
 public:
  Metrics();
  ~Metrics();

  // A durable commit group (the store's on_commit).
  void ObserveCommit(const engine::CommitNotice& notice);
  // An accepted batch: its events' types, and which of them were already stored.
  void ObserveBatch(const std::vector<engine::EventType>& types,
                    const engine::AppendResult& result);
  // A batch refused because the commit queue was full (429).
  void ObserveQueueFull();
  // One answered request: the route's template ("/v2/jobs/{job_id}"), the status.
  void ObserveRequest(std::string_view route, unsigned status, double seconds);
  // Verification run through the admin route: its progress; that it started (running
  // 1, differences 0); what it found when it ended (running 0). The same series as
  // `jobctl verify --metrics-file` keeps, so one alert watches both.
  void SetVerifyProgress(uint64_t jobs_done, uint64_t jobs_total);
  void VerifyStarted();
  void VerifyEnded(uint64_t differences);

  // Gauges read at scrape time.
  struct Sources {
    std::function<size_t()> open_connections;
    std::function<size_t()> watchers;
    std::function<StatusCache::Stats()> status_cache;
  };
  void SetSources(Sources sources);

  // The text exposition (format 0.0.4), with the store's figures read now.
  std::string Render(const engine::StoreStats& store);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  Sources sources_;
  std::array<prometheus::Counter*, 18> appended_by_type_{};  // by EventType value
  prometheus::Counter* duplicates_;
  prometheus::Counter* batches_;
  prometheus::Histogram* batch_events_;
  prometheus::Counter* queue_full_;
  prometheus::Counter* groups_;
  prometheus::Histogram* group_events_;
  prometheus::Histogram* group_requests_;
  prometheus::Histogram* commit_seconds_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* request_seconds_;
  // The request metrics of each (route, code) and route, found once: a family's Add
  // builds a label map on every call.
  std::mutex request_mu_;
  struct RouteMetrics {
    prometheus::Histogram* seconds = nullptr;
    std::map<unsigned, prometheus::Counter*> by_code;
  };
  std::map<std::string, RouteMetrics, std::less<>> by_route_;  // Guarded by request_mu_
  prometheus::Gauge* open_connections_;
  prometheus::Gauge* watchers_;
  prometheus::Gauge* status_cache_bytes_;
  prometheus::Counter* status_cache_hits_;
  prometheus::Counter* status_cache_misses_;
  prometheus::Counter* status_cache_page_hits_;
  prometheus::Counter* status_cache_page_misses_;
  prometheus::Counter* status_cache_snapshot_hits_;
  std::mutex status_cache_mu_;
  StatusCache::Stats status_cache_seen_;  // counted so far; Guarded by status_cache_mu_
  std::array<prometheus::Gauge*, engine::kJobStatusCount> jobs_{};
  prometheus::Gauge* queue_events_;
  prometheus::Gauge* last_position_;
  prometheus::Gauge* memtable_bytes_;
  prometheus::Gauge* block_cache_bytes_;
  prometheus::Gauge* pending_compaction_bytes_;
  prometheus::Gauge* sst_bytes_;
  // Per column family, labelled family and kind (truth or derived).
  prometheus::Family<prometheus::Gauge>* family_sst_bytes_;
  prometheus::Family<prometheus::Gauge>* family_keys_;
  prometheus::Gauge* wal_bytes_;
  prometheus::Gauge* write_stopped_;
  prometheus::Gauge* writable_;
  prometheus::Gauge* delayed_write_rate_;
  prometheus::Gauge* verify_done_;
  prometheus::Gauge* verify_total_;
  prometheus::Gauge* verify_running_;
  prometheus::Gauge* verify_differences_;
};

}  // namespace jobstate::api
