// Every route of API.md over a real loopback socket against the real server and a
// real RocksDB.
#include <atomic>
#include <regex>
#include <thread>
#include <set>

#include "tests/api/server_fixture.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;

class RoutesTest : public ServerTest {
 protected:
  // A running job with `files` files, discovered in events of up to 1000.
  void MakeJob(const std::string& job, int files) {
    std::vector<std::string> events = {
        Event(NewId(), job, "job.created", R"({"collection_name":"docs","job_type":"index_s3"})"),
        Event(NewId(), job, "job.started"),
        Event(NewId(), job, "stage.started", R"({"stage":"scanning"})")};
    for (int start = 0; start < files; start += 1000) {
      std::string list;
      for (int i = start; i < std::min(files, start + 1000); ++i) {
        list += std::string(i > start ? "," : "") + "{\"uri\":\"s3://b/" + job + "/" +
                std::to_string(i) + "\",\"size_bytes\":" + std::to_string(100 + i) + "}";
      }
      events.push_back(Event(NewId(), job, "files.discovered", "{\"files\":[" + list + "]}"));
    }
    Append(Batch(events));
  }
  std::string Uri(const std::string& job, int i) { return "s3://b/" + job + "/" + std::to_string(i); }
  // Starts job-1's 60 files one append at a time while three readers poll its status;
  // after each acknowledged append, a read shows that version or a later one.
  void ExpectAcknowledgedAppendsAreSeen() {
    const std::string path = "/v2/jobs/job-1?files_limit=5";
    std::atomic<bool> done{false};
    std::vector<std::thread> readers;
    struct Stop {  // the readers end however this returns, a failed assertion included
      std::atomic<bool>& done;
      std::vector<std::thread>& readers;
      ~Stop() {
        done = true;
        for (auto& t : readers) t.join();
      }
    } stop{done, readers};
    for (int r = 0; r < 3; ++r) {
      readers.emplace_back([&] {
        HttpClient reader(port());
        while (!done) reader.Get(path, Keys::kReader);
      });
    }
    for (int i = 0; i < 60; ++i) {
      const std::string started = "{\"uri\":\"" + Uri("job-1", i) + "\"}";
      const json::value ack = Append(Batch({Event(NewId(), "job-1", "file.started", started)}));
      const int64_t acked = ack.at("results").as_array()[0].at("version").as_int64();
      const Reply after = client_->Get(path, Keys::kReader);
      ASSERT_EQ(after.status, 200) << after.body;
      const json::object s = after.json().as_object();
      ASSERT_GE(s.at("version").as_int64(), acked) << "append " << i;
      ASSERT_EQ(s.at("progress").at("files_processing").as_int64(), i + 1) << "append " << i;
      if (i < 5) {  // the page shows the file that just started
        ASSERT_EQ(s.at("files").as_array()[static_cast<size_t>(i)].at("status").as_string(),
                  "processing");
      }
    }
  }
};

const std::regex kInstant(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");

TEST_F(RoutesTest, StatusHasEveryFieldWithNullsWhereTheyDoNotApply) {
  MakeJob("job-1", 3);
  Append(Batch({Event(NewId(), "job-1", "file.started", R"({"uri":"s3://b/job-1/0"})"),
                Event(NewId(), "job-1", "file.completed", R"({"uri":"s3://b/job-1/0","pages":2})"),
                Event(NewId(), "job-1", "file.failed",
                      R"({"uri":"s3://b/job-1/1","error_code":"E","error_message":"m"})")}));
  Reply r = client_->Get("/v2/jobs/job-1", Keys::kReader);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("etag"), "\"7\"");
  json::object s = r.json().as_object();
  for (const char* f : {"job_id", "status", "collection_name", "job_type", "progress_message",
                        "progress", "files", "files_page", "result", "billing", "error_code",
                        "error_message", "cancelled_by", "cancelled_at", "created_at",
                        "updated_at", "started_at", "completed_at",
                        "estimated_time_remaining_seconds", "version"}) {
    EXPECT_TRUE(s.contains(f)) << f;
  }
  EXPECT_EQ(s["status"], "running");
  EXPECT_TRUE(s["result"].is_null());
  EXPECT_TRUE(s["billing"].is_null());
  EXPECT_TRUE(s["completed_at"].is_null());
  EXPECT_TRUE(std::regex_match(std::string(s["created_at"].as_string()), kInstant));
  EXPECT_EQ(s["progress_message"], "Scanning: 2 of 3 files");
  const json::object& p = s["progress"].as_object();
  for (const char* f : {"current_stage", "stage_description", "files_total", "files_processed",
                        "files_failed", "files_skipped", "elapsed_seconds", "stage_index",
                        "stage_count", "stages", "scan_complete", "files_queued",
                        "files_processing", "files_completed", "files_cancelled", "bytes_total",
                        "bytes_done", "percent", "files_per_second", "eta_low_seconds",
                        "eta_high_seconds", "estimated_completion_at", "stalled",
                        "last_event_at"}) {
    EXPECT_TRUE(p.contains(f)) << f;
  }
  int64_t sum = 0;
  for (const char* f : {"files_queued", "files_processing", "files_completed", "files_failed",
                        "files_skipped", "files_cancelled"}) {
    sum += p.at(f).as_int64();
  }
  EXPECT_EQ(sum, p.at("files_total").as_int64());
  EXPECT_EQ(p.at("files_processed").as_int64(), 2);
  EXPECT_EQ(p.at("percent").as_double(), 66.6);
  EXPECT_EQ(p.at("stage_index").as_int64(), 1);
  EXPECT_EQ(p.at("stages").as_array().size(), 6u);
  EXPECT_EQ(s["files"].as_array().size(), 3u);
  const json::object& f0 = s["files"].as_array()[0].as_object();
  EXPECT_EQ(f0.at("status"), "completed");
  EXPECT_EQ(f0.at("pages").as_int64(), 2);
  EXPECT_EQ(f0.at("attempts").as_int64(), 1);
  // Plain decimals, not 6.66E1.
  EXPECT_NE(r.body.find("\"percent\":66.6"), std::string::npos);
}

TEST_F(RoutesTest, CompletedJobHasResultAndDerivedBilling) {
  MakeJob("job-1", 2);
  Append(Batch({Event(NewId(), "job-1", "file.completed", R"({"uri":"s3://b/job-1/0","pages":3})"),
                Event(NewId(), "job-1", "file.completed", R"({"uri":"s3://b/job-1/1","pages":4})"),
                Event(NewId(), "job-1", "job.completed",
                      R"({"result":{"warnings":["w1"],"index":"idx-7"},)"
                      R"("billing":{"cost":{"amount":1.5,"currency":"USD"},)"
                      R"("rate":{"per_credit":0.01,"currency":"USD"},"credits":{"remaining":90}}})")}));
  json::object s = client_->Get("/v2/jobs/job-1", Keys::kReader).json().as_object();
  EXPECT_EQ(s["status"], "completed");
  EXPECT_EQ(s["progress"].at("percent").as_double(), 100.0);
  const json::object& result = s["result"].as_object();
  EXPECT_EQ(result.at("files_indexed").as_int64(), 2);
  EXPECT_EQ(result.at("warnings").as_array().size(), 1u);
  EXPECT_EQ(result.at("index"), "idx-7");  // further fields of the final event's result
  const json::object& billing = s["billing"].as_object();
  EXPECT_EQ(billing.at("pages_processed").as_int64(), 7);
  EXPECT_EQ(billing.at("credits").at("used").as_double(), 7.0);
  EXPECT_EQ(billing.at("processing_type"), "basic");
  EXPECT_EQ(billing.at("cost").at("amount").as_double(), 1.5);
}

TEST_F(RoutesTest, ConditionalReadAnswers304) {
  MakeJob("job-1", 1);
  Reply r = client_->Get("/v2/jobs/job-1", Keys::kReader);
  Reply again = client_->Send(http::verb::get, "/v2/jobs/job-1", Keys::kReader, "", "",
                              {{"If-None-Match", r.header("etag")}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  Append(Batch({Event(NewId(), "job-1", "job.progress", R"({"message":"x"})")}));
  Reply changed = client_->Send(http::verb::get, "/v2/jobs/job-1", Keys::kReader, "", "",
                                {{"If-None-Match", r.header("etag")}});
  EXPECT_EQ(changed.status, 200);
}

TEST_F(RoutesTest, IfNoneMatchIsReadAsRfc9110Says) {
  MakeJob("job-1", 1);  // version 4
  const auto answer = [&](const std::string& value) {
    return client_->Send(http::verb::get, "/v2/jobs/job-1", Keys::kReader, "", "",
                         {{"If-None-Match", value}}).status;
  };
  EXPECT_EQ(answer(R"("4")"), 304);
  EXPECT_EQ(answer(R"("1", "4")"), 304);  // a list naming it anywhere
  EXPECT_EQ(answer(R"("1",W/"4")"), 304);  // compared weakly
  EXPECT_EQ(answer(R"(, "4" ,)"), 304);  // empty list elements are allowed
  EXPECT_EQ(answer("*"), 304);  // the job exists
  EXPECT_EQ(answer(R"("1", "3")"), 200);
  EXPECT_EQ(answer(R"("40")"), 200);
  // Not a list of entity tags: the condition names nothing, so the answer is in full.
  EXPECT_EQ(answer("4"), 200);
  EXPECT_EQ(answer(R"("4)"), 200);
  EXPECT_EQ(answer(R"("4" "1")"), 200);
  EXPECT_EQ(answer(R"("4", *)"), 200);
  // The header's lines make one list.
  auto two_lines = HttpClient::Raw(port(), "GET /v2/jobs/job-1 HTTP/1.1\r\nHost: x\r\n"
                                           "Authorization: Bearer " + std::string(Keys::kReader) +
                                           "\r\nIf-None-Match: \"1\"\r\nIf-None-Match: \"4\"\r\n"
                                           "Connection: close\r\n\r\n");
  ASSERT_EQ(two_lines.size(), 1u);
  EXPECT_EQ(two_lines[0].status, 304);
  // A job that does not exist has no representation for "*" to name.
  EXPECT_EQ(client_->Send(http::verb::get, "/v2/jobs/job-404", Keys::kReader, "", "",
                          {{"If-None-Match", "*"}}).status, 404);
}

// The files route is conditional as the status is: its ETag is the job's version, 304
// while the job has not changed, the page in full once it has.
TEST_F(RoutesTest, FilesPageCarriesTheJobsVersionAsItsETag) {
  MakeJob("job-1", 3);  // version 4
  const std::string path = "/v2/jobs/job-1/files?limit=2";
  const Reply first = client_->Get(path, Keys::kReader);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("etag"), R"("4")");
  EXPECT_EQ(client_->Get("/v2/jobs/job-1", Keys::kReader).header("etag"), R"("4")");
  const Reply same = client_->Send(http::verb::get, path, Keys::kReader, "", "",
                                   {{"If-None-Match", R"(W/"4")"}});
  EXPECT_EQ(same.status, 304);
  EXPECT_EQ(same.header("etag"), R"("4")");
  EXPECT_EQ(same.body, "");
  // Its first tag names the version, so the rows are not read at first; but a second,
  // malformed line voids the condition, and the page comes in full.
  auto voided =
      HttpClient::Raw(port(), "GET " + path +
                                  " HTTP/1.1\r\nHost: x\r\n"
                                  "Authorization: Bearer " +
                                  std::string(Keys::kReader) +
                                  "\r\nIf-None-Match: \"4\"\r\nIf-None-Match: 4\r\n"
                                  "Connection: close\r\n\r\n");
  ASSERT_EQ(voided.size(), 1u);
  EXPECT_EQ(voided[0].status, 200);
  EXPECT_EQ(voided[0].body, first.body);
  Append(Batch({Event(NewId(), "job-1", "file.started", R"({"uri":"s3://b/job-1/0"})")}));
  const Reply changed = client_->Send(http::verb::get, path, Keys::kReader, "", "",
                                      {{"If-None-Match", R"("4")"}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.header("etag"), R"("5")");
  EXPECT_NE(changed.body, first.body);  // file 0 is processing now
  // Not a way to learn of another organisation's job, nor of one that does not exist.
  EXPECT_EQ(client_
                ->Send(http::verb::get, "/v2/jobs/job-404/files", Keys::kReader, "", "",
                       {{"If-None-Match", "*"}})
                .status,
            404);
}

TEST_F(RoutesTest, HeadAnswersAsGetWithoutTheBody) {
  MakeJob("job-1", 3);
  for (const std::string path : {"/v2/jobs/job-1", "/v2/jobs/job-1/files?limit=2", "/v2/jobs",
                                 "/v2/jobs/job-404", "/healthz"}) {
    SCOPED_TRACE(path);
    const Reply get = client_->Get(path, Keys::kAll);
    const Reply head = client_->Send(http::verb::head, path, Keys::kAll);
    EXPECT_EQ(head.status, get.status);
    EXPECT_EQ(head.header("content-type"), get.header("content-type"));
    EXPECT_EQ(head.header("content-length"), std::to_string(get.body.size()));
    EXPECT_EQ(head.header("etag"), get.header("etag"));
    EXPECT_EQ(head.body, "");
  }
  // Conditional and authorized as GET is.
  EXPECT_EQ(client_->Send(http::verb::head, "/v2/jobs/job-1", Keys::kAll, "", "",
                          {{"If-None-Match", R"("4")"}}).status, 304);
  EXPECT_EQ(client_->Send(http::verb::head, "/v2/jobs/job-1", "").status, 401);
  EXPECT_EQ(client_->Send(http::verb::head, "/v2/events", Keys::kReader).status, 403);
  // A stream's head says it would stream, and the connection goes on at once.
  const Reply watch = client_->Send(http::verb::head, "/v2/jobs/job-1/watch", Keys::kAll);
  EXPECT_EQ(watch.status, 200);
  EXPECT_EQ(watch.header("content-type"), "text/event-stream");
  EXPECT_EQ(watch.header("transfer-encoding"), "chunked");
  EXPECT_EQ(watch.body, "");
  EXPECT_EQ(client_->Get("/v2/jobs/job-1", Keys::kAll).json().at("version").as_int64(), 4);
  // Allowed wherever GET is, and said so.
  const Reply put = client_->Send(http::verb::put, "/v2/jobs/job-1", Keys::kAll);
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.header("allow"), "GET, HEAD, DELETE");
  EXPECT_EQ(client_->Send(http::verb::head, "/v2/jobs/job-1/cancel", Keys::kAll).status, 405);
}

TEST_F(RoutesTest, AFinalJobsStatusIsServedFromTheCacheUntilAFileSettles) {
  MakeJob("job-1", 3);
  Append(Batch({Event(NewId(), "job-1", "file.started", R"({"uri":"s3://b/job-1/0","stage":"extracting"})"),
                Event(NewId(), "job-1", "file.completed", R"({"uri":"s3://b/job-1/1"})"),
                Event(NewId(), "job-1", "job.failed", R"({"error_code":"quota","error_message":"out of quota"})")}));
  const std::string path = "/v2/jobs/job-1?files_limit=1";
  Reply first = client_->Get(path, Keys::kReader);
  ASSERT_EQ(first.status, 200) << first.body;
  const uint64_t hits = status_cache().stats().hits;
  Reply second = client_->Get(path, Keys::kReader);
  EXPECT_EQ(status_cache().stats().hits, hits + 1);  // served from the cache...
  EXPECT_EQ(second.body, first.body);          // ...exactly as rendered
  EXPECT_EQ(second.header("etag"), first.header("etag"));
  EXPECT_GT(status_cache().stats().bytes, first.body.size());
  EXPECT_EQ(client_->Send(http::verb::get, path, Keys::kReader, "", "",
                          {{"If-None-Match", first.header("etag")}}).status, 304);
  // Another page, another organisation: not this entry.
  EXPECT_NE(client_->Get("/v2/jobs/job-1?files_limit=2", Keys::kReader).body, first.body);
  EXPECT_EQ(client_->Get(path, Keys::kOther).status, 404);

  // The file left processing settles after the job failed: a new version, shown at once.
  Append(Batch({Event(NewId(), "job-1", "file.failed", R"({"uri":"s3://b/job-1/0","error_code":"x","error_message":"timed out"})")}));
  json::object s = client_->Get(path, Keys::kReader).json().as_object();
  EXPECT_EQ(s["version"].as_int64(), first.json().at("version").as_int64() + 1);
  EXPECT_EQ(s["progress"].at("files_failed").as_int64(), 1);
  EXPECT_EQ(s["progress"].at("files_processing").as_int64(), 0);
}

TEST_F(RoutesTest, ARunningJobsFilesPageIsReusedUntilTheJobChanges) {
  MakeJob("job-1", 3);
  const std::string path = "/v2/jobs/job-1?files_limit=2";
  auto page_of = [](const Reply& r) {
    json::object o = r.json().as_object();
    return json::serialize(json::object{{"files", o["files"]}, {"files_page", o["files_page"]}});
  };
  const api::StatusCache::Stats before = status_cache().stats();
  Reply first = client_->Get(path, Keys::kReader);
  ASSERT_EQ(first.status, 200) << first.body;
  Reply second = client_->Get(path, Keys::kReader);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(status_cache().stats().page_misses, before.page_misses + 1);
  EXPECT_EQ(status_cache().stats().page_hits, before.page_hits + 1);  // the second read's page
  EXPECT_EQ(page_of(second), page_of(first));
  EXPECT_EQ(second.header("etag"), first.header("etag"));
  // Neither read was served a whole body: a running job's body is served only to a
  // third read within one millisecond.
  EXPECT_EQ(status_cache().stats().hits, before.hits);
  // The first read cached the job's snapshot too: the second and third read nothing of
  // the job from the store (the third may even find the second's body, when both fell
  // in the same millisecond).
  Reply cached = client_->Get(path, Keys::kReader);
  const api::StatusCache::Stats after = status_cache().stats();
  EXPECT_EQ(after.job_hits - before.job_hits + after.hits - before.hits, 2u);
  EXPECT_EQ(page_of(cached), page_of(first));
  EXPECT_EQ(cached.json().at("version"), first.json().at("version"));
  EXPECT_EQ(cached.json().at("progress").at("files_total"), first.json().at("progress").at("files_total"));

  // The next page, through the cached page's cursor, is a page of its own.
  const std::string cursor(first.json().at("files_page").at("next_cursor").as_string());
  json::object next = client_->Get(path + "&files_cursor=" + cursor, Keys::kReader).json().as_object();
  ASSERT_EQ(next["files"].as_array().size(), 1u);
  EXPECT_EQ(next["files"].as_array()[0].at("uri").as_string(), Uri("job-1", 2));

  // A file starts: a new version, and the page shows it at once.
  Append(Batch({Event(NewId(), "job-1", "file.started", "{\"uri\":\"" + Uri("job-1", 0) + "\"}")}));
  Reply third = client_->Get(path, Keys::kReader);
  EXPECT_EQ(third.json().at("files").as_array()[0].at("status").as_string(), "processing");
  EXPECT_EQ(third.json().at("version").as_int64(), first.json().at("version").as_int64() + 1);
  // Another organisation sees nothing of it.
  EXPECT_EQ(client_->Get(path, Keys::kOther).status, 404);
}

// A running job's status is a function of the instant: reads in the same millisecond
// share one rendering, byte for byte, and a commit of the job is seen at once even in
// that millisecond.
TEST_F(RoutesTest, ReadsOfARunningJobInOneMillisecondShareOneRendering) {
  MakeJob("job-1", 3);
  const std::string path = "/v2/jobs/job-1?files_limit=2";
  const engine::Millis at = clock().NowMillis();
  clock().Hold(at);
  const api::StatusCache::Stats before = status_cache().stats();
  Reply first = client_->Get(path, Keys::kReader);
  Reply second = client_->Get(path, Keys::kReader);
  EXPECT_EQ(status_cache().stats().hits, before.hits);  // the second rendering is kept...
  Reply third = client_->Get(path, Keys::kReader);
  EXPECT_EQ(status_cache().stats().hits, before.hits + 1);  // ...and serves the third
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(third.body, first.body);
  EXPECT_EQ(third.header("etag"), first.header("etag"));
  // Not in another organisation, nor for another page.
  EXPECT_EQ(client_->Get(path, Keys::kOther).status, 404);
  EXPECT_NE(client_->Get("/v2/jobs/job-1?files_limit=1", Keys::kReader).body, first.body);

  // The next millisecond renders afresh.
  clock().Hold(at + 1);
  const uint64_t hits = status_cache().stats().hits;
  EXPECT_EQ(client_->Get(path, Keys::kReader).status, 200);
  EXPECT_EQ(status_cache().stats().hits, hits);

  // An append to the job in the held millisecond: the next read shows it.
  clock().Hold(at);
  const std::string started = "{\"uri\":\"" + Uri("job-1", 0) + "\"}";
  Append(Batch({Event(NewId(), "job-1", "file.started", started)}));
  const json::value after = client_->Get(path, Keys::kReader).json();
  EXPECT_EQ(after.at("version").as_int64(), first.json().at("version").as_int64() + 1);
  EXPECT_EQ(after.at("files").as_array()[0].at("status").as_string(), "processing");
  EXPECT_EQ(status_cache().stats().hits, hits);
  clock().Release();
}

// Readers keep filling the status cache while a worker appends: after each
// acknowledged append, a read shows that version or a later one, never a snapshot, a
// page or a body cached from before it.
TEST_F(RoutesTest, ACachedStatusNeverHidesAnAcknowledgedAppend) {
  MakeJob("job-1", 60);
  ExpectAcknowledgedAppendsAreSeen();
  EXPECT_GT(status_cache().stats().job_hits, 0u);  // the cache was in play
}

// The same with the clock held at one instant: every read falls in one millisecond, so
// the bodies kept per instant are in play throughout.
TEST_F(RoutesTest, ABodyKeptForItsMillisecondNeverHidesAnAcknowledgedAppend) {
  MakeJob("job-1", 60);
  clock().Hold(clock().NowMillis());
  ExpectAcknowledgedAppendsAreSeen();
  clock().Release();
  EXPECT_GT(status_cache().stats().hits, 0u);  // bodies kept per instant were served
}

TEST_F(RoutesTest, CursorPagesVisitEveryFileOnceInDiscoveryOrder) {
  MakeJob("job-1", 1234);
  std::vector<std::string> batch;
  for (int i = 0; i < 1234; i += 3) {
    batch.push_back(Event(NewId(), "job-1", "file.started", "{\"uri\":\"" + Uri("job-1", i) + "\"}"));
  }
  Append(Batch(batch));
  for (const std::string& filter : {std::string(""), std::string("processing"),
                                    std::string("queued,processing")}) {
    std::vector<int> seen;
    std::string cursor;
    for (int page = 0; page < 100; ++page) {
      std::string target = "/v2/jobs/job-1/files?limit=97";
      if (!filter.empty()) target += "&status=" + filter;
      if (!cursor.empty()) target += "&cursor=" + cursor;
      Reply r = client_->Get(target, Keys::kReader);
      ASSERT_EQ(r.status, 200) << r.body;
      json::object body = r.json().as_object();
      for (const auto& f : body["files"].as_array()) {
        const std::string uri(f.at("uri").as_string());
        seen.push_back(std::stoi(uri.substr(uri.rfind('/') + 1)));
      }
      const json::value& next = body["files_page"].at("next_cursor");
      if (next.is_null()) {
        EXPECT_FALSE(body["files_page"].at("has_more").as_bool());
        break;
      }
      cursor = std::string(next.as_string());
    }
    std::vector<int> expected;
    for (int i = 0; i < 1234; ++i) {
      if (filter == "processing" && i % 3 != 0) continue;
      expected.push_back(i);
    }
    EXPECT_EQ(seen, expected) << "filter " << filter;
  }
}

TEST_F(RoutesTest, CursorsAreBoundToTheirJobAndFilterAndTamperEvident) {
  MakeJob("job-1", 30);
  MakeJob("job-2", 30);
  json::object first = client_->Get("/v2/jobs/job-1?files_limit=10", Keys::kReader).json().as_object();
  const std::string cursor(first["files_page"].at("next_cursor").as_string());
  // The other file route accepts it.
  Reply same = client_->Get("/v2/jobs/job-1/files?limit=10&cursor=" + cursor, Keys::kReader);
  ASSERT_EQ(same.status, 200);
  EXPECT_EQ(same.json().at("files").as_array()[0].at("uri"), json::value(Uri("job-1", 10)));
  for (const std::string& target :
       {"/v2/jobs/job-2/files?cursor=" + cursor, "/v2/jobs/job-1/files?status=queued&cursor=" + cursor,
        "/v2/jobs/job-1/files?cursor=" + cursor.substr(0, cursor.size() - 2) + "AA",
        std::string("/v2/jobs/job-1/files?cursor=garbage!")}) {
    Reply r = client_->Get(target, Keys::kReader);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_EQ(r.json().at("code"), "invalid_cursor") << target;
  }
}

TEST_F(RoutesTest, CancelSemantics) {
  MakeJob("job-1", 2);
  Reply r = client_->Send(http::verb::post, "/v2/jobs/job-1/cancel", Keys::kAll,
                          R"({"reason":"not needed"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("status"), "cancelled");
  EXPECT_TRUE(std::regex_match(std::string(r.json().at("cancelled_at").as_string()), kInstant));
  json::object s = client_->Get("/v2/jobs/job-1", Keys::kReader).json().as_object();
  EXPECT_EQ(s["status"], "cancelled");
  EXPECT_EQ(s["cancelled_by"], "all");
  EXPECT_EQ(s["progress"].at("current_stage"), "cancelled");
  EXPECT_EQ(s["progress"].at("files_cancelled").as_int64(), 2);
  const int64_t version = s["version"].as_int64();
  // Again: 200 with the real status; nothing appended.
  Reply again = client_->Send(http::verb::delete_, "/v2/jobs/job-1", Keys::kAll);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.json().at("status"), "cancelled");
  EXPECT_EQ(client_->Get("/v2/jobs/job-1", Keys::kReader).json().at("version").as_int64(), version);
  // A completed job is not cancelled.
  Append(Batch({Event(NewId(), "job-2", "job.created", R"({"collection_name":"c","job_type":"index_gcs"})"),
                Event(NewId(), "job-2", "job.completed")}));
  Reply done = client_->Send(http::verb::post, "/v2/jobs/job-2/cancel", Keys::kAll);
  EXPECT_EQ(done.status, 200);
  EXPECT_EQ(done.json().at("status"), "completed");
  EXPECT_TRUE(done.json().at("cancelled_at").is_null());
  EXPECT_EQ(client_->Send(http::verb::post, "/v2/jobs/nope/cancel", Keys::kAll).status, 404);
  // Workers hear about the cancel as job_final.
  Reply late = client_->Post("/v2/events", Keys::kAll,
                             Batch({Event(NewId(), "job-1", "job.progress", R"({"message":"x"})")}));
  EXPECT_EQ(late.status, 409);
  EXPECT_EQ(late.json().at("code"), "job_final");
  EXPECT_EQ(late.json().at("job_status"), "cancelled");
}

TEST_F(RoutesTest, AnotherOrganisationSeesNothing) {
  MakeJob("job-1", 2);
  EXPECT_EQ(client_->Get("/v2/jobs/job-1", Keys::kOther).status, 404);
  EXPECT_EQ(client_->Get("/v2/jobs/job-1/files", Keys::kOther).status, 404);
  EXPECT_EQ(client_->Send(http::verb::post, "/v2/jobs/job-1/cancel", Keys::kOther).status, 404);
  EXPECT_EQ(client_->Get("/v2/jobs", Keys::kOther).json().at("jobs").as_array().size(), 0u);
  // The same job id in the other organisation is its own job.
  Append(Batch({Event(NewId(), "job-1", "job.created", R"({"collection_name":"g","job_type":"index_r2"})")}),
         Keys::kOther);
  EXPECT_EQ(client_->Get("/v2/jobs/job-1", Keys::kOther).json().at("collection_name"), "g");
  EXPECT_EQ(client_->Get("/v2/jobs/job-1", Keys::kReader).json().at("collection_name"), "docs");
  // An X-Organization-ID header changes nothing.
  EXPECT_EQ(client_->Send(http::verb::get, "/v2/jobs/job-1", Keys::kReader, "", "",
                          {{"X-Organization-ID", "globex"}})
                .json()
                .at("collection_name"),
            "docs");
}

TEST_F(RoutesTest, AuthenticationAndScopes) {
  Reply none = client_->Get("/v2/jobs", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("www-authenticate"), "Bearer");
  EXPECT_EQ(none.header("content-type"), "application/problem+json");
  EXPECT_EQ(client_->Get("/v2/jobs", "jsk_unknown").status, 401);
  Reply forbidden = client_->Post("/v2/events", Keys::kReader, Batch({Event(NewId(), "j", "job.started")}));
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(forbidden.json().at("code"), "forbidden");
  EXPECT_EQ(client_->Get("/v2/jobs", Keys::kWriter).status, 403);
  EXPECT_EQ(client_->Send(http::verb::delete_, "/v2/jobs/x", Keys::kReader).status, 403);
  EXPECT_EQ(client_->Get("/healthz", "").status, 200);
  EXPECT_EQ(client_->Get("/readyz", "").status, 200);
}

TEST_F(RoutesTest, ListingIsNewestFirstFilteredAndPaged) {
  for (int i = 0; i < 7; ++i) {
    const std::string job = "job-" + std::to_string(i);
    const std::string type = i % 2 ? "index_gcs" : "index_s3";
    Append(Batch({Event(NewId(), job, "job.created",
                        "{\"collection_name\":\"c" + std::to_string(i % 3) +
                            "\",\"job_type\":\"" + type + "\"}")}));
  }
  Append(Batch({Event(NewId(), "job-3", "job.cancelled")}));
  std::vector<std::string> ids;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    Reply r = client_->Get("/v2/jobs?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), Keys::kReader);
    ASSERT_EQ(r.status, 200) << r.body;
    const json::value body = r.json();
    for (const auto& j : body.at("jobs").as_array()) {
      ids.emplace_back(j.at("job_id").as_string());
      EXPECT_FALSE(j.as_object().contains("files"));
    }
    if (body.at("next_cursor").is_null()) break;
    cursor = std::string(body.at("next_cursor").as_string());
  }
  EXPECT_EQ(ids.size(), 7u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 7u);
  EXPECT_EQ(client_->Get("/v2/jobs?status=cancelled", Keys::kReader).json().at("jobs").as_array().size(), 1u);
  EXPECT_EQ(client_->Get("/v2/jobs?job_type=index_gcs", Keys::kReader).json().at("jobs").as_array().size(), 3u);
  EXPECT_EQ(client_->Get("/v2/jobs?collection_name=c0&job_type=index_s3", Keys::kReader)
                .json().at("jobs").as_array().size(), 2u);
  EXPECT_EQ(client_->Get("/v2/jobs?created_after=2999-01-01T00:00:00Z", Keys::kReader)
                .json().at("jobs").as_array().size(), 0u);
  EXPECT_EQ(client_->Get("/v2/jobs?status=bogus", Keys::kReader).status, 400);
  EXPECT_EQ(client_->Get("/v2/jobs?cursor=" + cursor + "&status=pending", Keys::kReader).status, 400);
}

TEST_F(RoutesTest, NdjsonIngestAndIdempotentRetry) {
  const std::string id = NewId();
  const std::string body =
      Event(id, "job-n", "job.created", R"({"collection_name":"c","job_type":"index_s3"})") + "\n" +
      Event(NewId(), "job-n", "job.started") + "\n\n";
  Reply r = client_->Send(http::verb::post, "/v2/events", Keys::kWriter, body, "application/x-ndjson");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("appended").as_int64(), 2);
  Reply again = client_->Send(http::verb::post, "/v2/events", Keys::kWriter, body,
                              "application/x-ndjson; charset=utf-8");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.json().at("duplicates").as_int64(), 2);
  EXPECT_EQ(again.json().at("results").as_array()[1].at("position"),
            r.json().at("results").as_array()[1].at("position"));
  // Parameters are ignored, charset included: JSON is UTF-8, and RFC 8259 says a
  // charset parameter has no effect on a compliant recipient (clients that label JSON
  // ISO-8859-1 by default are common).
  for (const char* type :
       {"application/x-ndjson;charset=\"UTF-8\"",
        "application/x-ndjson; charset=ISO-8859-1", "application/x-ndjson; foo=bar"}) {
    EXPECT_EQ(
        client_->Send(http::verb::post, "/v2/events", Keys::kWriter, body, type).status,
        200)
        << type;
  }
}

TEST_F(RoutesTest, PipelinedRequestsAreAnsweredInOrder) {
  const std::string auth = std::string("Authorization: Bearer ") + Keys::kReader + "\r\n";
  std::string bytes;
  for (const char* target : {"/healthz", "/v2/jobs/nope", "/readyz"}) {
    bytes += std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n";
  }
  bytes += "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  auto replies = HttpClient::Raw(port(), bytes);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0].status, 200);
  EXPECT_EQ(replies[1].status, 404);
  EXPECT_EQ(replies[2].status, 200);
  EXPECT_EQ(replies[3].status, 200);
}

TEST_F(RoutesTest, FullQueueAnswers429WithRetryAfterAndLosesNothing) {
  StopServer();
  store_options_.sequencer.queue_capacity_events = 60;
  StartServer();
  constexpr int kSenders = 8, kBatches = 15;
  std::vector<int> accepted(kSenders, 0), refused(kSenders, 0), other(kSenders, 0);
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([&, s] {
      HttpClient client(port());
      const std::string job = "q-" + std::to_string(s);
      std::vector<std::string> first = {Event(NewId(), job, "job.created",
                                              R"({"collection_name":"c","job_type":"index_s3"})")};
      for (int b = 0; b < kBatches; ++b) {
        std::vector<std::string> events = b == 0 ? first : std::vector<std::string>{};
        while (events.size() < 40) {
          events.push_back(Event(NewId(), job, "job.progress", R"({"message":"m"})"));
        }
        Reply r = client.Post("/v2/events", Keys::kAll, Batch(events));
        if (r.status == 200) {
          ++accepted[s];
        } else if (r.status == 429 && r.header("retry-after") == "1" &&
                   r.json().at("code") == "queue_full") {
          ++refused[s];
          if (b == 0) return;  // the job was never created; stop this sender
        } else {
          ++other[s];
        }
      }
    });
  }
  for (auto& t : senders) t.join();
  int total_refused = 0;
  for (int s = 0; s < kSenders; ++s) {
    EXPECT_EQ(other[s], 0) << "sender " << s;
    total_refused += refused[s];
    if (accepted[s] == 0) continue;
    Reply job = client_->Get("/v2/jobs/q-" + std::to_string(s), Keys::kReader);
    ASSERT_EQ(job.status, 200);
    EXPECT_EQ(job.json().at("version").as_int64(), 40 * accepted[s]) << "sender " << s;
  }
  EXPECT_GT(total_refused, 0) << "the queue never filled; the test proves nothing";
}

TEST_F(RoutesTest, PercentNeverDecreasesThroughRetriesAndDiscovery) {
  MakeJob("job-p", 4);
  double last = -1;
  auto check = [&] {
    const double p = client_->Get("/v2/jobs/job-p", Keys::kReader).json().at("progress").at("percent").as_double();
    EXPECT_GE(p, last);
    last = p;
  };
  const std::vector<std::string> steps = {
      Event(NewId(), "job-p", "file.failed", R"({"uri":"s3://b/job-p/0","error_code":"E","error_message":"m"})"),
      Event(NewId(), "job-p", "file.completed", R"({"uri":"s3://b/job-p/1"})"),
      Event(NewId(), "job-p", "file.retried", R"({"uri":"s3://b/job-p/0"})"),
      Event(NewId(), "job-p", "files.discovered", R"({"files":[{"uri":"s3://b/job-p/new1"},{"uri":"s3://b/job-p/new2"}]})"),
      Event(NewId(), "job-p", "file.skipped", R"({"uri":"s3://b/job-p/2"})"),
  };
  check();
  for (const std::string& e : steps) {
    Append(Batch({e}));
    check();
  }
  EXPECT_LT(last, 100.0);
}

}  // namespace
}  // namespace jobstate::testing

namespace jobstate::testing {
namespace {

class ConnectionLimitTest : public ServerTest {
 protected:
  void SetUp() override {
    server_options_.max_connections = 3;
    ServerTest::SetUp();
  }
};

TEST_F(ConnectionLimitTest, OneConnectionOverTheLimitIsAnswered503AndClosed) {
  // Three kept-alive connections: the fixture's client and two more.
  ASSERT_EQ(client_->Get("/healthz", "").status, 200);
  auto a = std::make_unique<HttpClient>(port());
  HttpClient b(port());
  ASSERT_EQ(a->Get("/healthz", "").status, 200);
  ASSERT_EQ(b.Get("/healthz", "").status, 200);
  auto over = HttpClient::Raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].status, 503);
  EXPECT_EQ(over[0].header("retry-after"), "5");
  EXPECT_EQ(over[0].json().at("code"), "too_many_connections");
  // A connection that closes makes room.
  a.reset();
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    auto again = HttpClient::Raw(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    served = again.size() == 1 && again[0].status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace jobstate::testing
