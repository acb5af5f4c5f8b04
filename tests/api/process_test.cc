// The real jobstated binary: SIGTERM with a request in flight finishes it and exits 0;
// kill -9 during ingest from several clients loses no acknowledged event.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>

#include <gtest/gtest.h>

#include "tests/api/http_client.h"
#include "tests/api/server_fixture.h"
#include "tests/support/temp_dir.h"

namespace jobstate::testing {
namespace {

namespace json = boost::json;

class Daemon {
 public:
  explicit Daemon(const std::string& data_dir) : data_dir_(data_dir) {}
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void Start(std::vector<std::string> extra = {}) {
    const std::string port_file = data_dir_ + ".port";
    std::remove(port_file.c_str());
    std::vector<std::string> args = {"jobstated", "--data-dir", data_dir_, "--listen",
                                     "127.0.0.1:0", "--port-file", port_file};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      if (!log_file_.empty() && !std::freopen(log_file_.c_str(), "a", stderr)) _exit(126);
      if (file_size_limit_ > 0) {
        // Files may grow only this far: a write beyond fails with EFBIG (the signal
        // that would kill the process is ignored), like a full disk.
        const rlimit limit{file_size_limit_, file_size_limit_};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(125);
        signal(SIGXFSZ, SIG_IGN);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(JOBSTATE_DAEMON, argv.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      std::ifstream in(port_file);
      in >> port_;
    }
    ASSERT_GT(port_, 0) << "jobstated did not start";
    std::ifstream key(data_dir_ + "/dev-api-key");
    key >> key_;
  }
  // Sends `sig` to a server that keeps running (SIGHUP).
  void Notify(int sig) const { kill(pid_, sig); }
  // Sends `sig` and waits for the server to exit; its wait status.
  int Signal(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    port_ = 0;
    return status;
  }
  uint16_t port() const { return port_; }
  const std::string& key() const { return key_; }
  // Where the server's stderr (its log) goes; the terminal when empty.
  void LogTo(std::string file) { log_file_ = std::move(file); }
  void LimitFileSize(rlim_t bytes) { file_size_limit_ = bytes; }

 private:
  std::string log_file_;
  rlim_t file_size_limit_ = 0;
  std::string data_dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string key_;
};

std::string CreatedJob(const std::string& job) {
  return ServerTest::Event(ServerTest::NewId(), job, "job.created",
                           R"({"collection_name":"c","job_type":"index_s3"})");
}

TEST(ProcessTest, SigtermFinishesTheRequestInFlightAndExitsZero) {
  TempDir dir;
  Daemon d(dir.Sub("data"));
  d.Start();
  std::vector<std::string> events = {CreatedJob("big")};
  for (int i = 0; i < 9999; ++i) {
    events.push_back(ServerTest::Event(ServerTest::NewId(), "big", "job.progress", R"({"message":"m"})"));
  }
  const std::string body = ServerTest::Batch(events);
  HttpClient idle(d.port());  // a kept-alive connection with nothing to do
  ASSERT_EQ(idle.Get("/healthz", "").status, 200);
  Reply answer;
  std::thread sender([&] { answer = HttpClient(d.port()).Post("/v2/events", d.key(), body); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the body is being read or committed
  const int status = d.Signal(SIGTERM);
  sender.join();
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.json().at("appended").as_int64(), 10000);
  d.Start();
  Reply job = HttpClient(d.port()).Get("/v2/jobs/big", d.key());
  ASSERT_EQ(job.status, 200);
  EXPECT_EQ(job.json().at("version").as_int64(), 10000);
  d.Signal(SIGTERM);
}

TEST(ProcessTest, KillDashNineLosesNoAcknowledgedEvent) {
  TempDir dir;
  Daemon d(dir.Sub("data"));
  d.Start();
  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::vector<int64_t> acked(kClients, 0);
  std::vector<std::thread> clients;
  // Copied before the clients start: Signal() below resets the daemon's port.
  const uint16_t port = d.port();
  const std::string key = d.key();
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      HttpClient client(port);
      const std::string job = "job-" + std::to_string(c);
      if (client.Post("/v2/events", key, ServerTest::Batch({CreatedJob(job)})).status != 200) return;
      acked[c] = 1;
      while (!stop) {
        std::vector<std::string> batch;
        for (int i = 0; i < 10; ++i) {
          batch.push_back(ServerTest::Event(ServerTest::NewId(), job, "job.progress", R"({"message":"m"})"));
        }
        Reply r = client.Post("/v2/events", key, ServerTest::Batch(batch));
        if (r.status != 200) return;  // the server died under us
        acked[c] += 10;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  d.Signal(SIGKILL);
  stop = true;
  for (auto& t : clients) t.join();
  d.Start();
  HttpClient client(d.port());
  for (int c = 0; c < kClients; ++c) {
    ASSERT_GT(acked[c], 10) << "client " << c << " committed too little to test anything";
    Reply r = client.Get("/v2/jobs/job-" + std::to_string(c), d.key());
    ASSERT_EQ(r.status, 200);
    const int64_t version = r.json().at("version").as_int64();
    EXPECT_GE(version, acked[c]) << "acknowledged events lost";
    EXPECT_LE(version, acked[c] + 10) << "more than the one unanswered batch";
    EXPECT_EQ((version - 1) % 10, 0) << "a batch was stored in part";
  }
}

TEST(ProcessTest, MetricsMoveToTheirOwnListenerWhenAsked) {
  TempDir dir;
  Daemon d(dir.Sub("data"));
  // A free port for the metrics listener: bind one, release it, hand it over.
  uint16_t metrics_port = 0;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    metrics_port = a.local_endpoint().port();
  }
  d.Start({"--metrics-listen", "127.0.0.1:" + std::to_string(metrics_port)});
  ASSERT_EQ(HttpClient(d.port()).Post("/v2/events", d.key(), ServerTest::Batch({CreatedJob("m")})).status,
            200);
  Reply moved = HttpClient(metrics_port).Get("/metrics", "");
  ASSERT_EQ(moved.status, 200);
  EXPECT_NE(moved.body.find("jobstate_events_appended_total{type=\"job.created\"} 1"),
            std::string::npos) << moved.body.substr(0, 2000);
  EXPECT_EQ(HttpClient(d.port()).Get("/metrics", "").status, 404);  // moved, not copied
  EXPECT_EQ(HttpClient(metrics_port).Get("/v2/jobs/m", d.key()).status, 404);
  EXPECT_EQ(d.Signal(SIGTERM) & 0xff00, 0);
}

TEST(ProcessTest, LogsAreKeyValueLinesAndNameTheRequestIdOfAProblem) {
  TempDir dir;
  Daemon d(dir.Sub("data"));
  d.LogTo(dir.Sub("server.log"));
  d.Start({"--access-log"});
  Reply missing = HttpClient(d.port()).Get("/v2/jobs/nope", d.key());
  ASSERT_EQ(missing.status, 404);
  const std::string id(missing.json().at("request_id").as_string());
  EXPECT_EQ(missing.header("x-request-id"), id);
  d.Signal(SIGTERM);
  std::ifstream in(dir.Sub("server.log"));
  std::string line, started, request;
  while (std::getline(in, line)) {
    EXPECT_EQ(line.rfind("ts=", 0), 0u) << line;  // every line is key=value
    if (line.find("event=started") != std::string::npos) started = line;
    if (line.find("request_id=" + id + " ") != std::string::npos) request = line;
  }
  EXPECT_NE(started.find("durability=sync"), std::string::npos) << started;
  EXPECT_NE(started.find("data_dir=" + dir.Sub("data")), std::string::npos) << started;
  EXPECT_NE(started.find("dev_key=" + dir.Sub("data") + "/dev-api-key"), std::string::npos) << started;
  EXPECT_NE(started.find("listen=127.0.0.1:"), std::string::npos) << started;
  EXPECT_NE(request.find("status=404 code=job_not_found"), std::string::npos) << request;
  EXPECT_NE(request.find("route=\"/v2/jobs/{job_id}\""), std::string::npos) << request;
}

// The keys file is re-read when it changes. An edit that breaks it keeps the keys in
// force and says why in the log, once; a good edit takes effect within seconds.
TEST(ProcessTest, KeysFileEditsTakeEffectAndABrokenOneIsLoggedAndIgnored) {
  TempDir dir;
  Daemon d(dir.Sub("data"));
  d.LogTo(dir.Sub("server.log"));
  d.Start();
  const std::string keys_file = dir.Sub("data") + "/keys.json";
  std::string good;
  {
    std::ifstream in(keys_file);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  HttpClient client(d.port());
  auto status_with = [&](const std::string& key) {
    return client.Get("/v2/jobs", key).status;
  };
  // Waits (up to 5 s) until a request with `key` answers `want`.
  auto eventually = [&](const std::string& key, int want) {
    for (int i = 0; i < 100 && status_with(key) != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return status_with(key);
  };
  auto log_lines = [&](const std::string& event) {
    std::ifstream in(dir.Sub("server.log"));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (line.find("event=" + event) != std::string::npos) out.push_back(line);
    }
    return out;
  };

  std::ofstream(keys_file) << R"({"keys": [)";  // cut short
  for (int i = 0; i < 100 && log_lines("keys_reload_failed").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(log_lines("keys_reload_failed").size(), 1u);
  EXPECT_NE(log_lines("keys_reload_failed")[0].find("level=warning"), std::string::npos);
  EXPECT_NE(log_lines("keys_reload_failed")[0].find("the keys in force stay"),
            std::string::npos);
  EXPECT_EQ(status_with(d.key()), 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // two more polls
  EXPECT_EQ(log_lines("keys_reload_failed").size(), 1u) << "logged once per version";

  std::ofstream(keys_file) << R"({"keys": []})";  // every key revoked
  EXPECT_EQ(eventually(d.key(), 401), 401);
  std::ofstream(keys_file) << good;
  EXPECT_EQ(eventually(d.key(), 200), 200);
  EXPECT_GE(log_lines("keys_reloaded").size(), 2u);

  // SIGHUP reloads at once, and logs as the poll does, saying which asked.
  auto sighup_lines = [&] {
    size_t n = 0;
    for (const std::string& line : log_lines("keys_reloaded")) {
      n += line.find("trigger=sighup") != std::string::npos;
    }
    return n;
  };
  EXPECT_EQ(sighup_lines(), 0u);
  d.Notify(SIGHUP);
  for (int i = 0; i < 100 && sighup_lines() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(sighup_lines(), 1u);
  EXPECT_EQ(status_with(d.key()), 200);
  d.Signal(SIGTERM);
}

TEST(ProcessTest, AStorageThatCannotWriteAnswers503AndLosesNothingAcknowledged) {
  TempDir dir;
  Daemon d(dir.Sub("data"));
  d.LimitFileSize(1 << 20);  // the WAL cannot grow past 1 MiB
  d.Start();
  HttpClient c(d.port());
  int64_t acked = 0;
  Reply refused;
  ASSERT_EQ(c.Post("/v2/events", d.key(), ServerTest::Batch({CreatedJob("full")})).status, 200);
  ++acked;
  for (int b = 0; b < 100; ++b) {
    std::vector<std::string> events;
    for (int i = 0; i < 500; ++i) {
      events.push_back(ServerTest::Event(ServerTest::NewId(), "full", "job.progress",
                                         R"({"message":"filling the disk, one event at a time"})"));
    }
    Reply r = c.Post("/v2/events", d.key(), ServerTest::Batch(events));
    if (r.status != 200) {
      refused = r;
      break;
    }
    acked += 500;
  }
  ASSERT_EQ(refused.status, 503) << refused.body;  // never a 500
  EXPECT_EQ(refused.header("retry-after"), "5");
  EXPECT_EQ(refused.json().at("code"), "unavailable") << refused.body;
  EXPECT_EQ(c.Get("/readyz", "").status, 503);
  EXPECT_EQ(c.Post("/v2/events", d.key(), ServerTest::Batch({ServerTest::Event(
                ServerTest::NewId(), "full", "job.progress", R"({"message":"still full"})")})).status,
            503);
  Reply status = c.Get("/v2/jobs/full", d.key());  // reads go on
  ASSERT_EQ(status.status, 200);
  EXPECT_GE(status.json().at("version").as_int64(), acked);
  d.Signal(SIGKILL);

  Daemon again(dir.Sub("data"));  // room again: everything acknowledged is there
  again.Start();
  Reply after = HttpClient(again.port()).Get("/v2/jobs/full", again.key());
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.json().at("version").as_int64(), acked);
  again.Signal(SIGTERM);
}

}  // namespace
}  // namespace jobstate::testing
