// GET /v2/jobs/{id}/events: the stream as stored, paged, in JSON and NDJSON.
#include "tests/api/server_fixture.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;

class HistoryTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    sent_ = {Event(NewId(), "job-h", "job.created",
                   R"({"collection_name":"c","job_type":"index_s3","metadata":{"team":"x"},"custom":{"k":[1,2]}})"),
             Event(NewId(), "job-h", "job.started", "", R"(,"worker_id":"w-1")"),
             Event(NewId(), "job-h", "files.discovered",
                   R"({"files":[{"uri":"s3://b/a","size_bytes":5,"content_type":"text/plain"}]})"),
             Event(NewId(), "job-h", "file.started", R"({"uri":"s3://b/a"})"),
             Event(NewId(), "job-h", "job.cancelled", R"({"reason":"enough"})")};
    Append(Batch(sent_));
  }
  std::vector<std::string> sent_;
};

TEST_F(HistoryTest, PagesThroughTheStreamAsStored) {
  std::vector<json::value> all;
  int64_t from = 1;
  for (int page = 0; page < 10; ++page) {
    Reply r = client_->Get("/v2/jobs/job-h/events?limit=2&from_version=" + std::to_string(from), Keys::kAll);
    ASSERT_EQ(r.status, 200) << r.body;
    const json::value body = r.json();
    for (const auto& e : body.at("events").as_array()) all.push_back(e);
    from = body.at("next_from_version").as_int64();
    if (!body.at("has_more").as_bool()) break;
  }
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(from, 6);  // also on the last page: where to come back for more
  for (size_t i = 0; i < all.size(); ++i) {
    const json::value sent = json::parse(sent_[i]);
    EXPECT_EQ(all[i].at("event_id"), sent.at("event_id"));
    EXPECT_EQ(all[i].at("type"), sent.at("type"));
    EXPECT_EQ(all[i].at("version").as_int64(), static_cast<int64_t>(i + 1));
    EXPECT_TRUE(all[i].as_object().contains("position"));
    EXPECT_TRUE(all[i].as_object().contains("recorded_at"));
  }
  EXPECT_EQ(all[0].at("data").at("custom"), json::parse(R"({"k":[1,2]})"));  // unknown data kept
  EXPECT_EQ(all[0].at("data").at("metadata").at("team"), "x");
  EXPECT_EQ(all[1].at("worker_id"), "w-1");
  EXPECT_EQ(all[4].at("data").at("cancelled_by"), "all");  // written by the engine
  // Beyond the end: nothing, and the same version to come back to.
  json::value past = client_->Get("/v2/jobs/job-h/events?from_version=9", Keys::kAll).json();
  EXPECT_EQ(past.at("events").as_array().size(), 0u);
  EXPECT_EQ(past.at("next_from_version").as_int64(), 9);
}

TEST_F(HistoryTest, EventsAsReturnedAreDuplicatesWhenSentAgain) {
  json::value body = client_->Get("/v2/jobs/job-h/events", Keys::kAll).json();
  std::vector<std::string> again;
  for (auto e : body.at("events").as_array()) {
    e.as_object().erase("version");
    e.as_object().erase("position");
    e.as_object().erase("recorded_at");
    again.push_back(json::serialize(e));
  }
  Reply r = client_->Post("/v2/events", Keys::kAll, Batch(again));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("duplicates").as_int64(), 5);
}

TEST_F(HistoryTest, NdjsonLinesAndPagingHeaders) {
  Reply r = client_->Send(http::verb::get, "/v2/jobs/job-h/events?limit=3", Keys::kAll, "", "",
                          {{"Accept", "application/x-ndjson"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/x-ndjson");
  EXPECT_EQ(r.header("x-next-from-version"), "4");
  EXPECT_EQ(r.header("x-has-more"), "true");
  size_t lines = 0;
  for (size_t start = 0; start < r.body.size();) {
    const size_t end = r.body.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_TRUE(json::parse(r.body.substr(start, end - start)).is_object());
    ++lines;
    start = end + 1;
  }
  EXPECT_EQ(lines, 3u);
}

TEST_F(HistoryTest, BadParametersScopesAndUnknownJobs) {
  EXPECT_EQ(client_->Get("/v2/jobs/job-h/events?from_version=-1", Keys::kAll).status, 400);
  EXPECT_EQ(client_->Get("/v2/jobs/job-h/events?from_version=x", Keys::kAll).status, 400);
  EXPECT_EQ(client_->Get("/v2/jobs/job-h/events?limit=0", Keys::kAll).json().at("events").as_array().size(), 1u);
  EXPECT_EQ(client_->Get("/v2/jobs/job-h/events?from_version=0", Keys::kAll).json().at("events").as_array().size(), 5u);
  EXPECT_EQ(client_->Get("/v2/jobs/nope/events", Keys::kAll).status, 404);
  EXPECT_EQ(client_->Get("/v2/jobs/job-h/events", Keys::kReader).status, 403);
  EXPECT_EQ(client_->Get("/v2/jobs/job-h/events", Keys::kOther).status, 404);
}

}  // namespace
}  // namespace jobstate::testing
