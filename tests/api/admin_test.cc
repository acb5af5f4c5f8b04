// The admin routes: an online verification and an online backup, reported with
// progress while the server keeps taking appends.
#include <thread>

#include "storage/internal/db.h"
#include "storage/maintenance.h"
#include "storage/store.h"
#include "tests/api/server_fixture.h"
#include "tests/support/status_matchers.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;

class AdminTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    for (int j = 0; j < 5; ++j) {
      const std::string job = "job-" + std::to_string(j);
      Append(Batch({Event(NewId(), job, "job.created", R"({"collection_name":"c","job_type":"index_s3"})"),
                    Event(NewId(), job, "job.started"),
                    Event(NewId(), job, "files.discovered", R"({"files":[{"uri":"s3://b/1"}]})")}));
    }
  }
  // Polls the operation until it is no longer running.
  json::value Await(const json::value& started) {
    const std::string where = "/v2/admin/operations/" + std::string(started.at("id").as_string());
    for (int i = 0; i < 400; ++i) {
      Reply r = client_->Get(where, Keys::kAll);
      EXPECT_EQ(r.status, 200) << r.body;
      json::value op = r.json();
      if (op.at("state") != "running") return op;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ADD_FAILURE() << "the operation did not finish";
    return {};
  }
};

TEST_F(AdminTest, OnlineVerificationOfAllJobsAndOfOne) {
  Reply started = client_->Post("/v2/admin/verify", Keys::kAll, "");
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_EQ(started.header("location"), "/v2/admin/operations/" +
                                            std::string(started.json().at("id").as_string()));
  json::value done = Await(started.json());
  EXPECT_EQ(done.at("state"), "succeeded");
  EXPECT_EQ(done.at("jobs_checked").as_int64(), 5);
  EXPECT_EQ(done.at("events_checked").as_int64(), 15);
  EXPECT_EQ(done.at("progress").at("jobs_done").as_int64(), 5);
  EXPECT_TRUE(done.at("differences").as_array().empty());

  Reply one = client_->Post("/v2/admin/verify", Keys::kAll, R"({"job_id":"job-2"})");
  ASSERT_EQ(one.status, 202);
  json::value only = Await(one.json());
  EXPECT_EQ(only.at("jobs_checked").as_int64(), 1);
  EXPECT_EQ(only.at("job_id"), "job-2");
  EXPECT_EQ(client_->Post("/v2/admin/verify", Keys::kAll, R"({"job_id":"nope"})").status, 404);
  EXPECT_EQ(client_->Post("/v2/admin/verify", Keys::kAll, R"({"jobs":"all"})").status, 400);
  EXPECT_EQ(client_->Post("/v2/admin/verify", Keys::kReader, "").status, 403);
  EXPECT_EQ(client_->Get("/v2/admin/operations/999", Keys::kAll).status, 404);
  EXPECT_EQ(client_->Get("/v2/admin/operations/x", Keys::kAll).status, 404);
}

// The online verification keeps the series `jobctl verify --metrics-file` keeps, so the
// alert on differences (deploy/prometheus) watches both.
TEST_F(AdminTest, OnlineVerificationReportsItsDifferencesAsMetrics) {
  auto scrape = [&](const std::string& name) {
    return Sample("\n" + client_->Get("/metrics", "").body, name);
  };
  EXPECT_EQ(scrape("jobstate_verify_running"), 0);
  EXPECT_EQ(scrape("jobstate_verify_differences"), 0);

  // The jobs-by-status counts go missing while the server is down.
  StopServer();
  {
    auto db = storage::Db::Open({store_options_.path});
    ASSERT_THAT(db, IsOk());
    ASSERT_TRUE(
        (*db)->get()->Delete({}, (*db)->cf(storage::Cf::kMeta), "jobs_by_status").ok());
  }
  StartServer();
  Reply started = client_->Post("/v2/admin/verify", Keys::kAll, "");
  ASSERT_EQ(started.status, 202) << started.body;
  json::value done = Await(started.json());
  ASSERT_EQ(done.at("differences").as_array().size(), 1u) << done;
  EXPECT_EQ(scrape("jobstate_verify_running"), 0);
  EXPECT_EQ(scrape("jobstate_verify_differences"), 1);
}

TEST_F(AdminTest, OnlineBackupWhileAppendsGoOnRestoresClean) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    HttpClient c(port());
    for (int i = 0; !stop; ++i) {
      c.Post("/v2/events", Keys::kAll,
             Batch({Event(NewId(), "job-0", "job.progress", "{\"message\":\"m" + std::to_string(i) + "\"}")}));
    }
  });
  const std::string backups = dir_.Sub("backups");
  Reply started = client_->Post("/v2/admin/backup", Keys::kAll, "{\"dir\":\"" + backups + "\"}");
  ASSERT_EQ(started.status, 202) << started.body;
  json::value done = Await(started.json());
  stop = true;
  writer.join();
  ASSERT_EQ(done.at("state"), "succeeded") << json::serialize(done);
  EXPECT_EQ(done.at("dir"), json::value(backups));

  const std::string restored = dir_.Sub("restored");
  ASSERT_THAT(storage::Restore(backups, restored), IsOk());
  engine::SystemClock clock;
  storage::StoreOptions o;
  o.path = restored;
  auto store = storage::Store::Open(o, clock);
  ASSERT_THAT(store, IsOk());
  auto report = (*store)->Verify({});
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->jobs, 5u);
  EXPECT_TRUE(report->differences.empty());
  EXPECT_EQ(client_->Post("/v2/admin/backup", Keys::kAll, R"({"dir":"relative/path"})").status, 400);
}

}  // namespace
}  // namespace jobstate::testing
