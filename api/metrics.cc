#include "api/metrics.h"

#include <limits>
#include <mutex>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace jobstate::api {

namespace p = prometheus;

namespace {

p::Histogram::BucketBoundaries Exponential(double start, double factor, int count) {
  p::Histogram::BucketBoundaries b;
  for (double v = start; count-- > 0; v *= factor) b.push_back(v);
  return b;
}

const p::Histogram::BucketBoundaries& LatencyBuckets() {  // 50 µs .. ~26 s
  static const auto b = Exponential(0.00005, 2, 20);
  return b;
}

const p::Histogram::BucketBoundaries& SizeBuckets() {  // 1 .. 32,768
  static const auto b = Exponential(1, 2, 16);
  return b;
}

// The accuracy totals are stored (meta "eta_accuracy", rebuilt by replay), so they
// survive restarts; they are rendered as a histogram rather than observed.
p::MetricFamily EtaAccuracyFamily(const engine::EtaAccuracyTotals& totals) {
  p::MetricFamily family;
  family.name = "jobstate_eta_abs_error_ratio";
  family.help =
      "Completed jobs' ETA error when percent reached each mark: |predicted end - end| / "
      "duration";
  family.type = p::MetricType::Histogram;
  for (size_t i = 0; i < totals.at.size(); ++i) {
    const auto& point = totals.at[i];
    p::ClientMetric metric;
    metric.label.push_back(
        {"progress_percent", std::to_string(engine::kEtaCheckpointTenths[i] / 10)});
    metric.histogram.sample_count = static_cast<uint64_t>(point.count);
    metric.histogram.sample_sum =
        static_cast<double>(point.abs_error_micros) / engine::EtaAccuracyTotals::kMicro;
    for (size_t b = 0; b < point.le.size(); ++b) {
      metric.histogram.bucket.push_back(
          {static_cast<uint64_t>(point.le[b]), engine::EtaAccuracyTotals::kBounds[b]});
    }
    metric.histogram.bucket.push_back(
        {static_cast<uint64_t>(point.count), std::numeric_limits<double>::infinity()});
    family.metric.push_back(std::move(metric));
  }
  return family;
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<p::Registry>()) {
  auto& appended = p::BuildCounter()
                       .Name("jobstate_events_appended_total")
                       .Help("Events appended to the log, by type (duplicates not counted)")
                       .Register(*registry_);
  for (uint8_t t = 1; t < appended_by_type_.size(); ++t) {
    appended_by_type_[t] =
        &appended.Add({{"type", std::string(engine::Name(static_cast<engine::EventType>(t)))}});
  }
  auto counter = [&](const char* name, const char* help) {
    return &p::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  auto histogram = [&](const char* name, const char* help, const p::Histogram::BucketBoundaries& b) {
    return &p::BuildHistogram().Name(name).Help(help).Register(*registry_).Add({}, b);
  };
  duplicates_ = counter("jobstate_events_duplicate_total",
                        "Events acknowledged as already stored (idempotent retries)");
  batches_ = counter("jobstate_batches_total", "Batches accepted by POST /v2/events");
  batch_events_ = histogram("jobstate_batch_events", "Events per accepted batch", SizeBuckets());
  queue_full_ = counter("jobstate_batches_rejected_queue_full_total",
                        "Batches refused with 429 because the commit queue was full");
  groups_ = counter("jobstate_commit_groups_total", "Commit groups written (one synced WriteBatch each)");
  group_events_ = histogram("jobstate_commit_group_events", "Events per commit group", SizeBuckets());
  group_requests_ = histogram("jobstate_commit_group_requests", "Requests (batches) per commit group",
                              SizeBuckets());
  commit_seconds_ = histogram(
      "jobstate_commit_write_seconds",
      "Time to write a commit group, including the WAL fsync in sync durability", LatencyBuckets());
  requests_ = &p::BuildCounter()
                   .Name("jobstate_http_requests_total")
                   .Help("HTTP requests answered, by route and status code")
                   .Register(*registry_);
  request_seconds_ = &p::BuildHistogram()
                          .Name("jobstate_http_request_duration_seconds")
                          .Help("Time from a request's arrival to its answer (the head, for streams)")
                          .Register(*registry_);
  auto gauge = [&](const char* name, const char* help) {
    return &p::BuildGauge().Name(name).Help(help).Register(*registry_).Add({});
  };
  open_connections_ = gauge("jobstate_http_connections_open", "Open client connections");
  watchers_ = gauge("jobstate_watch_streams_open", "Open GET /v2/jobs/{id}/watch streams");
  status_cache_bytes_ = gauge("jobstate_status_cache_bytes",
                              "Rendered statuses of final jobs, files pages and running jobs' snapshots held in memory");
  status_cache_hits_ = counter("jobstate_status_cache_hits_total",
                               "GET /v2/jobs/{id} answered from the status cache");
  status_cache_misses_ = counter("jobstate_status_cache_misses_total",
                                 "GET /v2/jobs/{id} not answered whole from the status cache");
  status_cache_page_hits_ = counter("jobstate_status_cache_page_hits_total",
                                    "GET /v2/jobs/{id} that read the store but took the files page from the cache");
  status_cache_page_misses_ = counter("jobstate_status_cache_page_misses_total",
                                      "GET /v2/jobs/{id} that read and rendered the files page");
  status_cache_snapshot_hits_ = counter("jobstate_status_cache_snapshot_hits_total",
                                       "GET /v2/jobs/{id} of a running job rendered from its cached snapshot and page, without a read of the job");
  auto& jobs = p::BuildGauge().Name("jobstate_jobs").Help("Jobs by status").Register(*registry_);
  for (size_t s = 0; s < jobs_.size(); ++s) {
    jobs_[s] = &jobs.Add({{"status", std::string(engine::Name(static_cast<engine::JobStatus>(s)))}});
  }
  queue_events_ = gauge("jobstate_commit_queue_events", "Events waiting in the commit queue");
  last_position_ = gauge("jobstate_log_last_position", "Position of the last committed event");
  memtable_bytes_ = gauge("jobstate_rocksdb_memtable_bytes", "RocksDB memtables, all column families");
  block_cache_bytes_ = gauge("jobstate_rocksdb_block_cache_usage_bytes", "RocksDB block cache usage");
  pending_compaction_bytes_ = gauge("jobstate_rocksdb_pending_compaction_bytes",
                                    "RocksDB's estimate of bytes compaction still has to rewrite");
  sst_bytes_ = gauge("jobstate_rocksdb_live_sst_bytes", "Live SST files, all column families");
  wal_bytes_ = gauge("jobstate_rocksdb_wal_bytes", "Write-ahead log files on disk");
  family_sst_bytes_ = &p::BuildGauge()
                           .Name("jobstate_rocksdb_family_live_sst_bytes")
                           .Help("Live SST files of one column family (kind: truth, or "
                                 "derived and rebuilt by `jobctl replay`)")
                           .Register(*registry_);
  family_keys_ = &p::BuildGauge()
                      .Name("jobstate_rocksdb_family_estimated_keys")
                      .Help("RocksDB's estimate of the keys in one column family (entries "
                            "less deletions: low where keys move, as in the listing "
                            "indexes)")
                      .Register(*registry_);
  write_stopped_ = gauge("jobstate_rocksdb_write_stopped",
                         "1 while RocksDB stops writes (a stall: compaction cannot keep up)");
  writable_ = gauge("jobstate_storage_writable",
                    "1 while the store takes writes (what /readyz checks); 0 after a failed "
                    "write until storage recovers, or until a restart");
  delayed_write_rate_ = gauge("jobstate_rocksdb_delayed_write_rate_bytes_per_second",
                              "Write rate RocksDB throttles to while slowing writes down (0: not)");
  verify_done_ = gauge("jobstate_verify_jobs_done", "Jobs checked by the running (or last) online verification");
  verify_total_ = gauge("jobstate_verify_jobs", "Jobs the running (or last) online verification checks");
  verify_running_ =
      gauge("jobstate_verify_running", "1 while an online verification runs");
  verify_differences_ =
      gauge("jobstate_verify_differences",
            "Differences the last online verification found (complete once "
            "running is 0)");
}

Metrics::~Metrics() = default;

void Metrics::ObserveCommit(const engine::CommitNotice& n) {
  groups_->Increment();
  group_events_->Observe(static_cast<double>(n.events));
  group_requests_->Observe(static_cast<double>(n.requests));
  commit_seconds_->Observe(n.write_seconds);
}

void Metrics::ObserveBatch(const std::vector<engine::EventType>& types,
                           const engine::AppendResult& result) {
  batches_->Increment();
  batch_events_->Observe(static_cast<double>(types.size()));
  for (size_t i = 0; i < types.size() && i < result.results.size(); ++i) {
    if (result.results[i].duplicate) {
      duplicates_->Increment();
    } else {
      appended_by_type_[static_cast<size_t>(types[i])]->Increment();
    }
  }
}

void Metrics::ObserveQueueFull() { queue_full_->Increment(); }

void Metrics::ObserveRequest(std::string_view route, unsigned status, double seconds) {
  p::Counter* counter = nullptr;
  p::Histogram* histogram = nullptr;
  {
    std::scoped_lock lock(request_mu_);
    auto r = by_route_.find(route);
    if (r == by_route_.end()) {
      r = by_route_.emplace(std::string(route), RouteMetrics{}).first;
      r->second.seconds = &request_seconds_->Add({{"route", r->first}}, LatencyBuckets());
    }
    p::Counter*& c = r->second.by_code[status];
    if (!c) c = &requests_->Add({{"route", r->first}, {"code", std::to_string(status)}});
    counter = c;
    histogram = r->second.seconds;
  }
  counter->Increment();
  histogram->Observe(seconds);
}

void Metrics::SetVerifyProgress(uint64_t done, uint64_t total) {
  verify_done_->Set(static_cast<double>(done));
  verify_total_->Set(static_cast<double>(total));
}

void Metrics::VerifyStarted() {
  verify_differences_->Set(0);
  verify_running_->Set(1);
}

void Metrics::VerifyEnded(uint64_t differences) {
  verify_differences_->Set(static_cast<double>(differences));
  verify_running_->Set(0);
}

void Metrics::SetSources(Sources sources) { sources_ = std::move(sources); }

std::string Metrics::Render(const engine::StoreStats& s) {
  if (sources_.open_connections) open_connections_->Set(static_cast<double>(sources_.open_connections()));
  if (sources_.watchers) watchers_->Set(static_cast<double>(sources_.watchers()));
  if (sources_.status_cache) {
    std::scoped_lock lock(status_cache_mu_);  // concurrent scrapes count each hit once
    const StatusCache::Stats now = sources_.status_cache();
    status_cache_bytes_->Set(static_cast<double>(now.bytes));
    // Each counter advances by what the cache counted since the last scrape.
    auto advance = [&](prometheus::Counter* c, uint64_t StatusCache::Stats::*field) {
      c->Increment(static_cast<double>(now.*field - status_cache_seen_.*field));
    };
    advance(status_cache_hits_, &StatusCache::Stats::hits);
    advance(status_cache_misses_, &StatusCache::Stats::misses);
    advance(status_cache_page_hits_, &StatusCache::Stats::page_hits);
    advance(status_cache_page_misses_, &StatusCache::Stats::page_misses);
    advance(status_cache_snapshot_hits_, &StatusCache::Stats::job_hits);
    status_cache_seen_ = now;
  }
  for (size_t i = 0; i < jobs_.size(); ++i) jobs_[i]->Set(static_cast<double>(s.jobs_by_status[i]));
  queue_events_->Set(static_cast<double>(s.queued_events));
  last_position_->Set(static_cast<double>(s.last_position));
  memtable_bytes_->Set(static_cast<double>(s.memtable_bytes));
  block_cache_bytes_->Set(static_cast<double>(s.block_cache_bytes));
  pending_compaction_bytes_->Set(static_cast<double>(s.pending_compaction_bytes));
  sst_bytes_->Set(static_cast<double>(s.live_sst_bytes));
  wal_bytes_->Set(static_cast<double>(s.wal_bytes));
  for (const engine::FamilyStats& f : s.families) {
    const std::map<std::string, std::string> labels = {
        {"family", f.name}, {"kind", f.derived ? "derived" : "truth"}};
    family_sst_bytes_->Add(labels).Set(static_cast<double>(f.live_sst_bytes));
    family_keys_->Add(labels).Set(static_cast<double>(f.estimated_keys));
  }
  write_stopped_->Set(static_cast<double>(s.write_stopped));
  writable_->Set(s.writable ? 1 : 0);
  delayed_write_rate_->Set(static_cast<double>(s.delayed_write_rate));
  auto families = registry_->Collect();
  families.push_back(EtaAccuracyFamily(s.eta_accuracy));
  return p::TextSerializer().Serialize(families);
}

}  // namespace jobstate::api
