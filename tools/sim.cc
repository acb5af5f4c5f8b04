#include "tools/sim.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "api/crypto.h"
#include "api/json_write.h"
#include "api/time_format.h"

namespace jobstate::tools {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

constexpr const char* kStages[] = {"extracting", "chunking", "tagging", "embedding"};
constexpr const char* kTypes[] = {"application/pdf", "text/html", "text/plain"};

// One keep-alive connection to the server.
class Client {
 public:
  Client(std::string host, std::string port, std::string key)
      : host_(std::move(host)), port_(std::move(port)), key_(std::move(key)) {}

  // Returns the HTTP status (0 when the server could not be reached) and the body.
  std::pair<int, std::string> Call(http::verb verb, const std::string& target,
                                   const std::string& body = "") {
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host_);
    req.set(http::field::authorization, "Bearer " + key_);
    if (!body.empty()) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    for (int attempt = 0; attempt < 3; ++attempt) {
      beast::error_code ec;
      if (!open_) {
        tcp::resolver resolver(ioc_);
        auto endpoints = resolver.resolve(host_, port_, ec);
        if (!ec) net::connect(stream_.socket(), endpoints, ec);
        open_ = !ec;
        if (ec) {
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
          continue;
        }
      }
      http::write(stream_, req, ec);
      http::response<http::string_body> res;
      if (!ec) http::read(stream_, buffer_, res, ec);
      if (!ec) return {static_cast<int>(res.result_int()), res.body()};
      open_ = false;
      stream_.close();
    }
    return {0, ""};
  }

 private:
  std::string host_, port_, key_;
  net::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  bool open_ = false;
};

// What befalls a file: it completes, is skipped as already indexed, fails its first
// extraction with a timeout and is retried, or is corrupt and fails for good.
enum class Fate { kCompletes, kSkipped, kRetried, kCorrupt };

struct File {
  std::string job;
  std::string uri;
  int64_t size;
  Fate fate;
};

// What the coordinator knows of a job. A work stage opens when its first file enters it
// (`opened`: extracting = 1 … embedding = 4), as a real coordinator reports it; the
// worker that opens one holds `mu` until the server has the stage, so no file event of
// a later stage can overtake it. The worker that settles the job's last file finalizes
// the job.
struct JobProgress {
  std::mutex mu;
  int opened = 0;     // Guarded by mu
  int unsettled = 0;  // Guarded by mu
};

class Sim {
 public:
  explicit Sim(const SimOptions& o) : o_(o), rng_(o.seed) {
    auto url = boost::urls::parse_uri(o.url);
    if (url) {
      host_ = url->host();
      port_ = url->has_port() ? std::string(url->port()) : "80";
    }
  }

  int Run() {
    if (host_.empty()) {
      std::fprintf(stderr, "jobsim: --url must look like http://HOST:PORT\n");
      return 2;
    }
    const std::string run = api::Hex(api::RandomBytes(3));
    std::vector<std::string> jobs;
    for (int j = 0; j < o_.jobs; ++j) jobs.push_back("sim-" + run + "-" + std::to_string(j + 1));
    for (const auto& id : jobs) std::printf("%s\n", id.c_str());
    std::fflush(stdout);
    Client coordinator(host_, port_, o_.key);
    for (const auto& id : jobs) {
      // Every job's entry exists before the workers start (they only look entries up).
      jobs_[id].unsettled = o_.files;
      if (!StartJob(coordinator, id)) return 1;
    }
    std::shuffle(queue_.begin(), queue_.end(), rng_);  // the jobs move side by side
    std::vector<std::thread> workers;
    for (int w = 0; w < o_.workers; ++w) workers.emplace_back([this, w] { Work(w); });
    std::thread watcher;
    if (o_.watch) watcher = std::thread([this, &jobs] { Watch(jobs); });
    for (auto& t : workers) t.join();
    done_ = true;
    if (watcher.joinable()) watcher.join();
    return failures_.load() ? 1 : 0;
  }

 private:
  std::string Event(const std::string& job, const std::string& type, json::object data,
                    const std::string& worker) {
    json::object e{{"event_id", api::NewUuid()},
                   {"job_id", job},
                   {"type", type},
                   {"occurred_at", api::FormatInstant(Now())},
                   {"worker_id", worker}};
    if (!data.empty()) e["data"] = std::move(data);
    return api::WriteJson(e);
  }

  bool Post(Client& c, const std::vector<std::string>& events) {
    std::string body = "{\"events\":[";
    for (size_t i = 0; i < events.size(); ++i) body += (i ? "," : "") + events[i];
    body += "]}";
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto [status, text] = c.Call(http::verb::post, "/v2/events", body);
      if (status == 200) return true;
      if (status == 429 || status == 503 || status == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100 << std::min(attempt, 4)));
        continue;  // the same event ids make the retry safe
      }
      std::fprintf(stderr, "jobsim: append answered %d: %s\n", status, text.c_str());
      ++failures_;
      return false;
    }
    return false;
  }

  bool StartJob(Client& c, const std::string& job) {
    std::vector<std::string> events = {
        Event(job, "job.created",
              {{"collection_name", "demo-docs"},
               {"job_type", "index_s3"},
               {"processing_type", "basic"},
               {"files_expected", o_.files}},
              "coordinator"),
        Event(job, "job.started", {}, "coordinator"),
        Event(job, "stage.started", {{"stage", "scanning"}}, "coordinator")};
    // The workers serve every job at once, so only a lone job may call them its own;
    // with several, the ETA infers each job's lanes from its files in flight.
    if (o_.jobs == 1) {
      events.push_back(Event(job, "job.workers", {{"count", o_.workers}}, "coordinator"));
    }
    json::array files;
    std::scoped_lock lock(mu_);
    for (int f = 0; f < o_.files; ++f) {
      if (files.size() == 1000) {  // an event discovers at most 1,000 files
        events.push_back(Event(job, "files.discovered", {{"files", std::move(files)}}, "coordinator"));
        files = json::array();
      }
      const char* type = kTypes[f % 3];
      const int64_t size = static_cast<int64_t>(std::exp(std::normal_distribution<>(11, 1.2)(rng_)));
      const std::string uri = "s3://demo-bucket/" + job + "/doc-" + std::to_string(f) +
                              (f % 3 == 0 ? ".pdf" : f % 3 == 1 ? ".html" : ".txt");
      files.push_back(json::object{{"uri", uri}, {"name", uri.substr(uri.rfind('/') + 1)},
                                   {"size_bytes", size}, {"content_type", type}});
      const double roll = std::uniform_real_distribution<>(0, 1)(rng_);
      const Fate fate = roll < o_.fail_rate / 4 ? Fate::kCorrupt
                        : roll < o_.fail_rate   ? Fate::kRetried
                        : roll > 0.97           ? Fate::kSkipped
                                                : Fate::kCompletes;
      queue_.push_back({job, uri, size, fate});
    }
    events.push_back(Event(job, "files.discovered", {{"files", files}}, "coordinator"));
    events.push_back(
        Event(job, "stage.completed", {{"stage", "scanning"}}, "coordinator"));
    return Post(c, events);
  }

  void Work(int w) {
    Client c(host_, port_, o_.key);
    const std::string worker = "worker-" + std::to_string(w + 1);
    std::mt19937_64 rng(o_.seed * 7919 + w);
    for (;;) {
      File f;
      {
        std::scoped_lock lock(mu_);
        if (queue_.empty()) return;
        f = queue_.front();
        queue_.pop_front();
      }
      if (f.fate == Fate::kSkipped) {
        Post(c, {Event(f.job, "file.skipped", {{"uri", f.uri}, {"reason", "already_indexed"}}, worker)});
        Settled(c, f);
        continue;
      }
      // A file that fails does so in extracting, once it has spent its time there.
      const bool fails = f.fate == Fate::kRetried || f.fate == Fate::kCorrupt;
      for (int s = 0; s < (fails ? 1 : 4); ++s) {
        EnterStage(c, f, s, worker);
        Sleep(f, rng);
      }
      if (f.fate == Fate::kRetried) {
        Post(c, {Failed(f, "extraction_timeout", "extraction timed out", true, worker),
                 Event(f.job, "file.retried", {{"uri", f.uri}}, worker)});
        f.fate = Fate::kCompletes;  // the retry goes through
        std::scoped_lock lock(mu_);
        queue_.push_back(f);
        continue;
      }
      if (f.fate == Fate::kCorrupt) {
        Post(c, {Failed(f, "corrupt_file", "the document is truncated", false, worker)});
        Settled(c, f);
        continue;
      }
      const int64_t pages = std::max<int64_t>(1, f.size / 3000);
      Post(c, {Event(f.job, "file.completed",
                     {{"uri", f.uri}, {"pages", pages}, {"chunks", pages * 3}, {"tokens", pages * 900}},
                     worker)});
      Settled(c, f);
    }
  }

  // file.failed for a file that failed in extracting.
  std::string Failed(const File& f, const char* code, const char* message, bool retryable,
                     const std::string& worker) {
    return Event(f.job, "file.failed",
                 {{"uri", f.uri},
                  {"error_code", code},
                  {"error_message", message},
                  {"retryable", retryable},
                  {"stage", "extracting"}},
                 worker);
  }

  // The file enters work stage `s` (0 = extracting): file.started for the first, then
  // file.progress; with stage.started first when no file has entered the stage yet.
  void EnterStage(Client& c, const File& f, int s, const std::string& worker) {
    std::string event = s == 0 ? Event(f.job, "file.started",
                                       {{"uri", f.uri}, {"stage", kStages[0]}}, worker)
                               : Event(f.job, "file.progress",
                                       {{"uri", f.uri}, {"stage", kStages[s]}}, worker);
    JobProgress& job = jobs_.at(f.job);
    std::unique_lock lock(job.mu);
    if (job.opened > s) {
      lock.unlock();
      Post(c, {std::move(event)});
      return;
    }
    Post(c, {Event(f.job, "stage.started", {{"stage", kStages[s]}}, "coordinator"),
             std::move(event)});
    job.opened = s + 1;
  }

  // Called once a file has settled for good: the job's last one finalizes the job.
  void Settled(Client& c, const File& f) {
    JobProgress& job = jobs_.at(f.job);
    {
      std::scoped_lock lock(job.mu);
      if (--job.unsettled > 0) return;
    }
    FinishJob(c, f.job);
  }

  // Work that takes `ms` at speed 1.
  void Sleep(double ms) const {
    std::this_thread::sleep_for(
        std::chrono::microseconds(static_cast<int64_t>(ms / o_.speed * 1000)));
  }

  // A size-dependent, noisy stage time: ~50 ms + 8 ms per 10 KB, log-normal noise.
  void Sleep(const File& f, std::mt19937_64& rng) const {
    Sleep((50 + 0.0008 * static_cast<double>(f.size)) *
          std::exp(std::normal_distribution<>(0, 0.4)(rng)));
  }

  // Finalizing (building the index) is work too: ~150 ms + 5 ms a file.
  void FinishJob(Client& c, const std::string& job) {
    Post(c, {Event(job, "stage.started", {{"stage", "finalizing"}}, "coordinator")});
    Sleep(150 + 5.0 * o_.files);
    Post(c,
         {Event(job, "job.completed",
                {{"result", json::object{{"warnings", json::array{}}}},
                 {"billing",
                  json::object{
                      {"cost", json::object{{"amount", 0.42}, {"currency", "USD"}}},
                      {"rate", json::object{{"per_credit", 0.01}, {"currency", "USD"}}},
                      {"credits", json::object{{"remaining", 958}}}}}},
                "coordinator")});
  }

  void Watch(const std::vector<std::string>& jobs) {
    Client c(host_, port_, o_.key);
    for (bool last = false; !last;) {
      last = done_.load();
      for (const auto& id : jobs) {
        auto [status, body] = c.Call(http::verb::get, "/v2/jobs/" + id + "?files_limit=1");
        if (status != 200) continue;
        boost::system::error_code ec;
        json::value s = json::parse(body, ec);
        if (ec) continue;
        const auto& p = s.at("progress");
        std::printf("  %-22s %-24s %5.1f%%  %lld/%lld files  %-14s  %s\n", id.c_str(),
                    std::string(s.at("status").as_string()).c_str(),
                    p.at("percent").to_number<double>(),
                    static_cast<long long>(p.at("files_processed").as_int64()),
                    static_cast<long long>(p.at("files_total").as_int64()),
                    EtaText(s).c_str(),
                    std::string(s.at("progress_message").as_string()).c_str());
      }
      std::fflush(stdout);
      if (!last) std::this_thread::sleep_for(std::chrono::seconds(2));
    }
  }

  // "ETA 12 s (8-17)": the estimate and its interval, as a newcomer should see them
  // move; empty when the status has none (final, or nothing to go on yet).
  static std::string EtaText(const json::value& status) {
    const json::value& eta = status.at("estimated_time_remaining_seconds");
    if (!eta.is_int64()) return "";
    const json::value& p = status.at("progress");
    std::string text = "ETA " + std::to_string(eta.as_int64()) + " s";
    if (p.at("eta_low_seconds").is_number() && p.at("eta_high_seconds").is_number()) {
      text += " (" +
              std::to_string(std::llround(p.at("eta_low_seconds").to_number<double>())) +
              "-" +
              std::to_string(std::llround(p.at("eta_high_seconds").to_number<double>())) +
              ")";
    }
    return text;
  }

  static engine::Millis Now() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  const SimOptions o_;
  std::string host_, port_;
  std::mt19937_64 rng_;
  std::mutex mu_;
  std::deque<File> queue_;  // Guarded by mu_
  std::map<std::string, JobProgress> jobs_;  // filled before the workers start
  std::atomic<bool> done_{false};
  std::atomic<int> failures_{0};
};

}  // namespace

int RunSim(const SimOptions& options) { return Sim(options).Run(); }

}  // namespace jobstate::tools
