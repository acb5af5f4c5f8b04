// jobsim against a real server on loopback: the demo of the README's main command must
// drive every job to its end through the public API, with the failures, skips and
// retries it promises, and report its stages as a real coordinator does.
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include "tests/api/server_fixture.h"
#include "tools/sim.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;

class JobsimTest : public ServerTest {
 protected:
  tools::SimOptions Options() const {
    tools::SimOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(port());
    o.key = Keys::kAll;
    o.watch = false;
    return o;
  }

  json::object Get(const std::string& target) {
    const Reply r = client_->Get(target, Keys::kAll);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return r.status == 200 ? r.json().as_object() : json::object{};
  }
};

TEST_F(JobsimTest, DrivesEveryJobToItsEndWithFailuresSkipsAndRetries) {
  tools::SimOptions o = Options();
  o.jobs = 3;
  o.files = 40;
  o.workers = 6;
  o.speed = 100;
  o.fail_rate = 0.4;  // a tenth of the files corrupt, three tenths retried
  o.seed = 11;
  ASSERT_EQ(tools::RunSim(o), 0);

  const json::array jobs = Get("/v2/jobs?limit=10").at("jobs").as_array();
  ASSERT_EQ(jobs.size(), 3u);
  int64_t failed = 0, skipped = 0, retried = 0;
  for (const json::value& listed : jobs) {
    const std::string id(listed.at("job_id").as_string());
    SCOPED_TRACE(id);
    const json::object status = Get("/v2/jobs/" + id + "?files_limit=1");
    const json::object& p = status.at("progress").as_object();
    EXPECT_EQ(p.at("files_total").as_int64(), 40);
    EXPECT_EQ(p.at("files_processed").as_int64(), 40);
    EXPECT_EQ(p.at("files_completed").as_int64() + p.at("files_failed").as_int64() +
                  p.at("files_skipped").as_int64(),
              40);
    const std::string final_status(status.at("status").as_string());
    EXPECT_EQ(final_status, p.at("files_failed").as_int64() > 0
                                ? "completed_with_failures"
                                : "completed");
    EXPECT_TRUE(status.at("billing").is_object());
    failed += p.at("files_failed").as_int64();
    skipped += p.at("files_skipped").as_int64();

    // Every stage was opened, in order, when its first file entered it (or, for
    // scanning and finalizing, by the coordinator), and the job's end closed them all.
    const json::array& stages = p.at("stages").as_array();
    ASSERT_EQ(stages.size(), 6u);
    std::string previous;
    for (const json::value& stage : stages) {
      SCOPED_TRACE(json::serialize(stage));
      EXPECT_EQ(stage.at("status"), "completed");
      ASSERT_TRUE(stage.at("started_at").is_string());
      const std::string started(stage.at("started_at").as_string());
      EXPECT_LE(previous, started);  // RFC 3339 UTC with milliseconds sorts as time
      previous = started;
    }

    const json::object page = Get("/v2/jobs/" + id + "/files?limit=500");
    for (const json::value& file : page.at("files").as_array()) {
      const int64_t attempts = file.at("attempts").as_int64();
      const std::string file_status(file.at("status").as_string());
      if (file_status == "failed") {
        // A corrupt file fails once, in extracting, and is not retried.
        EXPECT_EQ(file.at("error_code"), "corrupt_file");
        EXPECT_EQ(file.at("stage"), "extracting");
        EXPECT_EQ(attempts, 1);
      }
      if (attempts > 1) {
        EXPECT_EQ(file_status, "completed");
        ++retried;
      }
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(skipped, 0);
  EXPECT_GT(retried, 0);
}

TEST_F(JobsimTest, ReportsAnAppendTheServerRefuses) {
  tools::SimOptions o = Options();
  o.key = Keys::kReader;  // jobs:read only: every append is 403
  o.jobs = 1;
  o.files = 2;
  EXPECT_EQ(tools::RunSim(o), 1);
}

}  // namespace
}  // namespace jobstate::testing
