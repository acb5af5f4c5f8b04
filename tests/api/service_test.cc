// Service::Handle without sockets, against a JobStore whose storage refuses writes:
// the cases a real RocksDB cannot be made to produce on demand (a full disk, a store
// that stopped writes) must still map to 503 with Retry-After, never to 500.
#include <fstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "api/crypto.h"
#include "api/service.h"
#include "tests/api/server_fixture.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace jobstate::testing {
namespace {

namespace net = boost::asio;

// A store that holds nothing and accepts no writes.
class UnwritableStore final : public engine::JobStore {
 public:
  void Submit(engine::AppendRequest, AppendCallback done) override {
    done(Err(Status::Unavailable("disk full")));
  }
  Result<engine::JobSnapshot> GetSnapshot(const std::string&, const std::string& id) const override {
    return Err(Status::NotFound("job_not_found", "no job " + id));
  }
  Result<engine::FilePage> ListFiles(const std::string&, const std::string& id,
                                     const engine::FileQuery&) const override {
    return Err(Status::NotFound("job_not_found", "no job " + id));
  }
  Result<engine::JobPage> ListJobs(const std::string&, const engine::JobQuery&) const override {
    return engine::JobPage{};
  }
  Result<std::vector<engine::RecordedEvent>> ReadJobEvents(const std::string&, const std::string&,
                                                           uint64_t, size_t) const override {
    return std::vector<engine::RecordedEvent>{};
  }
  Result<std::vector<engine::LogEntry>> ReadLog(uint64_t, size_t) const override {
    return std::vector<engine::LogEntry>{};
  }
  Result<std::vector<engine::RecordedEvent>> ReadOrgLog(const std::string&, uint64_t,
                                                        size_t) const override {
    return std::vector<engine::RecordedEvent>{};
  }
  Result<engine::HistoricalPage> ReadAsOf(const std::string&, const std::string& id,
                                          const engine::AsOf&,
                                          const engine::FileQuery&) const override {
    return Err(Status::NotFound("job_not_found", "no job " + id));
  }
  Result<std::optional<engine::EtaHistory>> GetEtaHistory(
      const engine::JobSnapshot&, std::optional<engine::Millis>) const override {
    return std::optional<engine::EtaHistory>();
  }
  engine::StoreStats GetStats() const override { return {}; }
  Result<engine::VerifyReport> Verify(const engine::VerifyOptions&) const override {
    return engine::VerifyReport{};
  }
  Status Backup(const std::string&) const override { return Status::Unavailable("disk full"); }
  Status CheckWritable() const override { return Status::Unavailable("disk full"); }
};

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = api::KeyStore::Open(dir_.Sub("keys.json"), dir_.Sub("dev-key"));
    ASSERT_THAT(keys, IsOk());
    keys_ = std::move(*keys);
    std::ifstream in(dir_.Sub("dev-key"));
    in >> key_;
    service_ = std::make_unique<api::Service>(store_, *keys_, clock_, cursors_, hub_,
                                              api::ServiceOptions{});
  }

  api::Response Call(api::http::verb verb, const std::string& target, const std::string& body = "") {
    api::Request req{verb, target, 11};
    req.set(api::http::field::authorization, "Bearer " + key_);
    req.set(api::http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    net::io_context ioc;
    auto answer = net::co_spawn(ioc, service_->Handle(std::move(req)), net::use_future);
    ioc.run();
    return std::move(answer.get().res);
  }

  TempDir dir_;
  UnwritableStore store_;
  api::ChangeHub hub_;
  engine::SystemClock clock_;
  api::CursorCodec cursors_{std::string(32, 's')};
  std::unique_ptr<api::KeyStore> keys_;
  std::unique_ptr<api::Service> service_;
  std::string key_;
};

TEST_F(ServiceTest, StorageThatRefusesWritesIs503WithRetryAfter) {
  const std::string batch = ServerTest::Batch({ServerTest::Event(
      ServerTest::NewId(), "job-1", "job.created", R"({"collection_name":"c","job_type":"index_s3"})")});
  api::Response r = Call(api::http::verb::post, "/v2/events", batch);
  EXPECT_EQ(r.result_int(), 503u);
  EXPECT_EQ(r[api::http::field::retry_after], "5");
  EXPECT_EQ(r[api::http::field::content_type], "application/problem+json");
  EXPECT_EQ(boost::json::parse(r.body()).at("code"), "unavailable");

  api::Response ready = Call(api::http::verb::get, "/readyz");
  EXPECT_EQ(ready.result_int(), 503u);
  EXPECT_EQ(ready[api::http::field::retry_after], "5");
  EXPECT_EQ(Call(api::http::verb::get, "/healthz").result_int(), 200u);  // alive all the same
}

TEST_F(ServiceTest, HealthAnswersGetAndHeadOnly) {
  EXPECT_EQ(Call(api::http::verb::head, "/healthz").result_int(), 200u);
  api::Response r = Call(api::http::verb::put, "/healthz");
  EXPECT_EQ(r.result_int(), 405u);
  EXPECT_EQ(r[api::http::field::allow], "GET, HEAD");
}

}  // namespace
}  // namespace jobstate::testing
