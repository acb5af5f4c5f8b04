#pragma once
// A real jobstate server in-process: RocksDB in a temporary folder, the Service and the
// Beast server on a loopback port with two threads, and a keys file with one key per
// role (and one in another organisation).

#include <atomic>
#include <memory>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "api/server.h"
#include "engine/clock.h"
#include "storage/store.h"
#include "tests/api/http_client.h"
#include "tests/support/temp_dir.h"

namespace jobstate::testing {

struct Keys {
  static constexpr const char* kAll = "jsk_all_acme";         // every scope, org acme
  static constexpr const char* kWriter = "jsk_writer_acme";   // events:write
  static constexpr const char* kReader = "jsk_reader_acme";   // jobs:read
  static constexpr const char* kOther = "jsk_all_globex";     // every scope, org globex
};

// The system's clock, unless a test holds it at one instant (to make reads of the same
// millisecond, which share the status cache's running bodies).
class HoldableClock final : public engine::Clock {
 public:
  engine::Millis NowMillis() const override {
    const engine::Millis held = held_.load();
    return held != kNone ? held : engine::SystemClock().NowMillis();
  }
  void Hold(engine::Millis at) { held_ = at; }
  void Release() { held_ = kNone; }

 private:
  static constexpr engine::Millis kNone = -1;
  std::atomic<engine::Millis> held_{kNone};
};

class ServerTest : public ::testing::Test {
 public:
  // An event's JSON text (occurred a minute ago), a batch body, a fresh event id.
  static std::string Event(const std::string& id, const std::string& job, const std::string& type,
                           const std::string& data = "", const std::string& extra = "");
  static std::string Batch(const std::vector<std::string>& events);
  static std::string NewId();
  // The value of the sample `name_and_labels` (exactly as exposed) in a scrape whose
  // text starts with a newline, or -1.
  static double Sample(const std::string& text, const std::string& name_and_labels);

 protected:
  void SetUp() override;
  void TearDown() override;

  void StartServer();
  void StopServer();

  uint16_t port() const { return port_; }
  api::StatusCache& status_cache() { return hub_->status_cache(); }
  HoldableClock& clock() { return clock_; }
  // JSON of N events built by `events`, posted with the all-scopes key; asserts 200.
  boost::json::value Append(const std::string& body, const std::string& key = Keys::kAll);
  // The stored state of org acme's `jobs`, byte for byte: the last position, each
  // job's encoded snapshot and every file row.
  std::string Fingerprint(const std::vector<std::string>& jobs);

  TempDir dir_;
  api::ServerOptions server_options_;
  storage::StoreOptions store_options_;  // path and on_commit are set by StartServer
  api::ServiceOptions service_options_;
  std::unique_ptr<HttpClient> client_;

 private:
  HoldableClock clock_;
  std::unique_ptr<api::ChangeHub> hub_;
  std::unique_ptr<api::Metrics> metrics_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<api::Operations> operations_;
  std::unique_ptr<api::KeyStore> keys_;
  std::unique_ptr<api::CursorCodec> cursors_;
  std::unique_ptr<api::Service> service_;
  std::unique_ptr<boost::asio::io_context> ioc_;
  std::unique_ptr<api::Server> server_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
};

}  // namespace jobstate::testing
