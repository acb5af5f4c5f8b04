#include "tests/api/server_fixture.h"

#include <atomic>
#include <cstdio>
#include <fstream>

#include "api/crypto.h"
#include "api/time_format.h"
#include "storage/codec.h"
#include "tests/support/status_matchers.h"

namespace jobstate::testing {

void ServerTest::SetUp() {
  std::ofstream keys(dir_.Sub("keys.json"));
  auto entry = [](const char* name, const char* org, const char* key, const char* scopes) {
    return std::string("{\"name\":\"") + name + "\",\"org\":\"" + org + "\",\"scopes\":[" +
           scopes + "],\"sha256\":\"" + api::Sha256Hex(key) + "\"}";
  };
  const char* all = R"("events:write","jobs:read","jobs:cancel","history:read","admin")";
  keys << "{\"keys\":[" << entry("all", "acme", Keys::kAll, all) << ","
       << entry("writer", "acme", Keys::kWriter, R"("events:write")") << ","
       << entry("reader", "acme", Keys::kReader, R"("jobs:read")") << ","
       << entry("other", "globex", Keys::kOther, all) << "]}";
  keys.close();
  server_options_.read_timeout = std::chrono::seconds(2);
  server_options_.idle_timeout = std::chrono::seconds(5);
  StartServer();
}

double ServerTest::Sample(const std::string& text, const std::string& name_and_labels) {
  const std::string prefix = "\n" + name_and_labels + " ";
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + prefix.size()));
}

void ServerTest::TearDown() { StopServer(); }

void ServerTest::StartServer() {
  store_options_.path = dir_.Sub("data");
  hub_ = std::make_unique<api::ChangeHub>();
  metrics_ = std::make_unique<api::Metrics>();
  store_options_.sequencer.on_commit = [hub = hub_.get(), metrics = metrics_.get()](
                                           const engine::CommitNotice& n) {
    hub->Publish(n);
    metrics->ObserveCommit(n);
  };
  auto store = storage::Store::Open(store_options_, clock_);
  ASSERT_THAT(store, IsOk());
  store_ = std::move(*store);
  auto keys = api::KeyStore::Open(dir_.Sub("keys.json"), dir_.Sub("dev-key"));
  ASSERT_THAT(keys, IsOk());
  keys_ = std::move(*keys);
  cursors_ = std::make_unique<api::CursorCodec>(std::string(32, 'k'));
  operations_ = std::make_unique<api::Operations>(*store_, clock_, metrics_.get());
  api::ServiceOptions service_options = service_options_;
  service_options.metrics = metrics_.get();
  service_options.operations = operations_.get();
  service_ = std::make_unique<api::Service>(*store_, *keys_, clock_, *cursors_, *hub_,
                                            service_options);
  ioc_ = std::make_unique<boost::asio::io_context>(2);
  server_ = std::make_unique<api::Server>(*ioc_, *service_, server_options_);
  metrics_->SetSources({[s = server_.get()] { return s->open_connections(); },
                        [s = service_.get()] { return s->watchers(); },
                        [h = hub_.get()] { return h->status_cache().stats(); }});
  auto port = server_->Listen("127.0.0.1", 0);
  ASSERT_THAT(port, IsOk());
  port_ = *port;
  server_->Start();
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_->run(); });
  client_ = std::make_unique<HttpClient>(port_);
}

void ServerTest::StopServer() {
  if (!server_) return;
  client_.reset();
  server_->Shutdown();
  hub_->Close();  // waiting reads answer, watch streams end
  for (auto& t : threads_) t.join();
  threads_.clear();
  server_.reset();
  ioc_.reset();
  service_.reset();
  operations_.reset();
  store_.reset();
  hub_.reset();
  metrics_.reset();
}

boost::json::value ServerTest::Append(const std::string& body, const std::string& key) {
  Reply r = client_->Post("/v2/events", key, body);
  EXPECT_EQ(r.status, 200) << r.body;
  return r.status == 200 ? r.json() : boost::json::value();
}

std::string ServerTest::Fingerprint(const std::vector<std::string>& jobs) {
  std::string out = std::to_string(store_->last_position()) + "|";
  for (const std::string& job : jobs) {
    auto snap = store_->GetSnapshot("acme", job);
    out += snap ? storage::EncodeSnapshot(*snap) : snap.error().ToString();
    engine::FileQuery q;
    q.limit = 100000;
    auto page = store_->ListFiles("acme", job, q);
    if (page) {
      for (const auto& row : page->rows) out += storage::EncodeFileRow(row);
    }
  }
  return out;
}

std::string ServerTest::NewId() {
  static std::atomic<uint64_t> n{1};
  char buf[40];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n++));
  return buf;
}

std::string ServerTest::Event(const std::string& id, const std::string& job,
                              const std::string& type, const std::string& data,
                              const std::string& extra) {
  static const std::string now = api::FormatInstant(engine::SystemClock().NowMillis() - 60'000);
  std::string e = "{\"event_id\":\"" + id + "\",\"job_id\":\"" + job + "\",\"type\":\"" + type +
                  "\",\"occurred_at\":\"" + now + "\"";
  if (!data.empty()) e += ",\"data\":" + data;
  return e + extra + "}";
}

std::string ServerTest::Batch(const std::vector<std::string>& events) {
  std::string b = "{\"events\":[";
  for (size_t i = 0; i < events.size(); ++i) b += (i ? "," : "") + events[i];
  return b + "]}";
}

}  // namespace jobstate::testing
