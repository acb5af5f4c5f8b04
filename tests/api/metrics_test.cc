// GET /metrics after a known workload: the counters add up.
#include <cstdlib>
#include <fstream>
#include <regex>

#include "tests/api/server_fixture.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;

class MetricsTest : public ServerTest {};

TEST_F(MetricsTest, CountersAddUpAfterAKnownWorkload) {
  const std::string created = Batch(
      {Event(NewId(), "job-m", "job.created", R"({"collection_name":"c","job_type":"index_s3"})"),
       Event(NewId(), "job-m", "job.started"),
       Event(NewId(), "job-m", "files.discovered", R"({"files":[{"uri":"s3://b/1"},{"uri":"s3://b/2"}]})")});
  Append(created);
  Append(Batch({Event(NewId(), "job-m", "job.progress", R"({"message":"a"})"),
                Event(NewId(), "job-m", "file.started", R"({"uri":"s3://b/1"})")}));
  Append(created);  // a retry: three duplicates
  EXPECT_EQ(client_->Post("/v2/events", Keys::kAll, "{").status, 400);
  EXPECT_EQ(client_->Get("/v2/jobs/job-m", Keys::kReader).status, 200);
  EXPECT_EQ(client_->Get("/v2/jobs/nope", Keys::kReader).status, 404);

  Reply r = client_->Get("/metrics", "");  // no key needed
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type").rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string text = "\n" + r.body;

  EXPECT_EQ(Sample(text, R"(jobstate_events_appended_total{type="job.created"})"), 1);
  EXPECT_EQ(Sample(text, R"(jobstate_events_appended_total{type="files.discovered"})"), 1);
  EXPECT_EQ(Sample(text, R"(jobstate_events_appended_total{type="file.started"})"), 1);
  double appended = 0;
  std::regex line(R"(\njobstate_events_appended_total\{type="[a-z.]+"\} ([0-9.e+]+))");
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) {
    appended += std::stod((*it)[1]);
  }
  EXPECT_EQ(appended, 5);
  EXPECT_EQ(Sample(text, "jobstate_events_duplicate_total"), 3);
  EXPECT_EQ(Sample(text, "jobstate_batches_total"), 3);
  EXPECT_EQ(Sample(text, "jobstate_batch_events_count"), 3);
  EXPECT_EQ(Sample(text, "jobstate_batch_events_sum"), 8);
  EXPECT_EQ(Sample(text, R"(jobstate_http_requests_total{code="200",route="/v2/events"})"), 3);
  EXPECT_EQ(Sample(text, R"(jobstate_http_requests_total{code="400",route="/v2/events"})"), 1);
  EXPECT_EQ(Sample(text, R"(jobstate_http_requests_total{code="404",route="/v2/jobs/{job_id}"})"), 1);
  EXPECT_EQ(Sample(text, R"(jobstate_http_request_duration_seconds_count{route="/v2/events"})"), 4);
  EXPECT_EQ(Sample(text, R"(jobstate_jobs{status="running"})"), 1);
  EXPECT_EQ(Sample(text, R"(jobstate_jobs{status="completed"})"), 0);
  EXPECT_EQ(Sample(text, "jobstate_log_last_position"), 5);
  // Two groups wrote the five new events (a duplicate-only batch writes nothing new,
  // but is still a group of its own).
  EXPECT_GE(Sample(text, "jobstate_commit_groups_total"), 2);
  EXPECT_EQ(Sample(text, "jobstate_commit_group_events_sum"), 8);
  EXPECT_EQ(Sample(text, "jobstate_commit_write_seconds_count"),
            Sample(text, "jobstate_commit_groups_total"));
  EXPECT_GE(Sample(text, "jobstate_http_connections_open"), 1);
  EXPECT_EQ(Sample(text, "jobstate_watch_streams_open"), 0);
  // Both status reads read the store: a running job's first body is not kept (only a
  // second rendering in the same millisecond is), nor a missing one's; the running
  // job's files page is, for the next read.
  EXPECT_EQ(Sample(text, "jobstate_status_cache_misses_total"), 2);
  EXPECT_EQ(Sample(text, "jobstate_status_cache_hits_total"), 0);
  EXPECT_EQ(Sample(text, "jobstate_status_cache_page_misses_total"), 1);
  EXPECT_EQ(Sample(text, "jobstate_status_cache_page_hits_total"), 0);
  EXPECT_EQ(Sample(text, "jobstate_status_cache_snapshot_hits_total"), 0);
  EXPECT_GT(Sample(text, "jobstate_status_cache_bytes"), 0);
  EXPECT_GT(Sample(text, "jobstate_rocksdb_wal_bytes"), 0);
  // Per column family: the five events and one job of the log's truth, and job-m's
  // three entries in the listing by filter (derived).
  EXPECT_EQ(
      Sample(text,
             R"(jobstate_rocksdb_family_estimated_keys{family="events",kind="truth"})"),
      5);
  EXPECT_EQ(
      Sample(text,
             R"(jobstate_rocksdb_family_estimated_keys{family="jobs",kind="truth"})"),
      1);
  EXPECT_EQ(
      Sample(
          text,
          R"(jobstate_rocksdb_family_estimated_keys{family="jobs_by_org_filter",kind="derived"})"),
      3);
  EXPECT_EQ(
      Sample(
          text,
          R"(jobstate_rocksdb_family_live_sst_bytes{family="snapshots",kind="derived"})"),
      0);
  EXPECT_EQ(Sample(text, "jobstate_rocksdb_write_stopped"), 0);
  EXPECT_EQ(Sample(text, "jobstate_storage_writable"), 1);
}

// A completed job's ETA accuracy: in its result, and in the histogram, which is kept
// in the store and so survives a restart.
TEST_F(MetricsTest, EtaAccuracyOfCompletedJobsInTheResultAndTheHistogram) {
  Append(Batch(
      {Event(NewId(), "job-a", "job.created", R"({"collection_name":"c","job_type":"index_s3"})"),
       Event(NewId(), "job-a", "job.started"),
       Event(NewId(), "job-a", "files.discovered",
             R"({"files":[{"uri":"s3://b/1"},{"uri":"s3://b/2"}]})"),
       Event(NewId(), "job-a", "file.started", R"({"uri":"s3://b/1"})")}));
  // The first file's end passes 10, 25 and 50%, the second's 75 and 90%; each has an
  // estimate by then (a file has finished).
  Append(Batch({Event(NewId(), "job-a", "file.completed", R"({"uri":"s3://b/1"})"),
                Event(NewId(), "job-a", "file.started", R"({"uri":"s3://b/2"})")}));
  Append(Batch({Event(NewId(), "job-a", "file.completed", R"({"uri":"s3://b/2"})")}));
  Append(Batch({Event(NewId(), "job-a", "job.completed")}));
  // A cancelled job has no record.
  Append(Batch({Event(NewId(), "job-c", "job.created", R"({"collection_name":"c","job_type":"index_s3"})"),
                Event(NewId(), "job-c", "job.cancelled")}));

  Reply status = client_->Get("/v2/jobs/job-a", Keys::kReader);
  ASSERT_EQ(status.status, 200);
  const json::value accuracy = json::parse(status.body).at("result").at("eta_accuracy");
  for (const char* mark : {"at_10_percent", "at_25_percent", "at_50_percent", "at_75_percent",
                           "at_90_percent"}) {
    EXPECT_TRUE(accuracy.at(mark).is_number()) << mark << " in " << accuracy;
  }
  EXPECT_TRUE(json::parse(client_->Get("/v2/jobs/job-c", Keys::kReader).body)
                  .at("result").at("eta_accuracy").is_null());

  StopServer();
  StartServer();
  // The first scrape is counted, so the second shows the request series too.
  ASSERT_EQ(client_->Get("/metrics", "").status, 200);
  const std::string body = client_->Get("/metrics", "").body;
  // CI runs promtool on this sample (every family, the histograms with data), and checks
  // that the alerting rules name only series it holds (deploy/prometheus).
  if (const char* out = std::getenv("JOBSTATE_METRICS_SAMPLE")) std::ofstream(out) << body;
  const std::string text = "\n" + body;
  for (const char* mark : {"10", "25", "50", "75", "90"}) {
    SCOPED_TRACE(mark);
    const std::string labels = std::string(R"({progress_percent=")") + mark + "\"";
    EXPECT_EQ(Sample(text, "jobstate_eta_abs_error_ratio_count" + labels + "}"), 1);
    EXPECT_EQ(Sample(text, "jobstate_eta_abs_error_ratio_bucket" + labels + R"(,le="+Inf"})"), 1);
    EXPECT_GE(Sample(text, "jobstate_eta_abs_error_ratio_sum" + labels + "}"), 0);
  }
}

}  // namespace
}  // namespace jobstate::testing
