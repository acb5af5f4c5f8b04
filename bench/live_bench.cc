// Live reads and time travel (issue #4):
//
//   live_bench [--server build/jobstated] [--scale X] [--only time_travel|watchers|feed]
//
//   time_travel  a job of 1,000,000 events (in-process Store): ReadAsOf at version 1,
//                in the middle and at the end, p50 / max over repetitions
//   watchers     5,000 idle SSE watchers on a real jobstated: its RSS and CPU while
//                they idle, then the fan-out delay of one change to every watcher
//   feed         long-poll wake-up: GET /v2/events?wait_ms waits, another client
//                appends one event; delay from the append's send to the feed's answer
//
// Everything runs on loopback against temporary data dirs that are removed afterwards.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "api/time_format.h"
#include "bench/bench_support.h"
#include "engine/clock.h"
#include "engine/projector.h"
#include "storage/store.h"

namespace {

using namespace jobstate;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// --- time travel ----------------------------------------------------------------------

int TimeTravel(double scale) {
  const std::string dir = (std::filesystem::temp_directory_path() / "jobstate-live-bench").string();
  std::filesystem::remove_all(dir);
  engine::SystemClock clock;
  storage::StoreOptions options;
  options.path = dir;
  auto store = storage::Store::Open(options, clock);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().ToString().c_str());
    return 1;
  }
  const int files = std::max(100, static_cast<int>(250'000 * scale));
  uint64_t id = 0;
  auto events = bench::JobEvents("big", files, id, clock.NowMillis() - 3'600'000);
  const auto load_start = Clock::now();
  for (size_t i = 0; i < events.size(); i += 1000) {
    std::vector<engine::Event> batch(events.begin() + static_cast<std::ptrdiff_t>(i),
                                     events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), i + 1000)));
    auto r = (*store)->Append(engine::AppendRequest{"bench", "bench", std::move(batch), {}});
    if (!r) {
      std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
      return 1;
    }
  }
  const uint64_t total = events.size();
  std::printf("time travel: a job of %llu events (%d files), loaded in %.1f s\n",
              static_cast<unsigned long long>(total), files,
              std::chrono::duration<double>(Clock::now() - load_start).count());
  std::printf("%-34s %10s %10s %10s\n", "read", "p50 ms", "max ms", "version");
  engine::FileQuery page;  // the default page of 50 files, as GET /v2/jobs/{id} reads it
  for (auto [label, version] : {std::pair{"as_of_version=1", uint64_t{1}},
                                std::pair{"as_of_version=middle", total / 2 + 371},
                                std::pair{"as_of_version=end", total}}) {
    std::vector<double> ms;
    for (int rep = 0; rep < 30; ++rep) {
      const auto t0 = Clock::now();
      auto r = (*store)->ReadAsOf("bench", "big", engine::AsOf{version, std::nullopt}, page);
      ms.push_back(Ms(Clock::now() - t0));
      if (!r || r->page.job.version != version) {
        std::fprintf(stderr, "read %s failed\n", label);
        return 1;
      }
    }
    std::printf("%-34s %10.3f %10.3f %10llu\n", label, Quantile(ms, 0.5),
                *std::max_element(ms.begin(), ms.end()), static_cast<unsigned long long>(version));
  }
  // For scale: folding the whole stream from nothing, as time travel without
  // checkpoints would.
  const auto t0 = Clock::now();
  auto read = (*store)->ReadJobEvents("bench", "big", 1, total);
  engine::JobSnapshot snap;
  engine::MemoryFileTable table;
  if (read) {
    for (const auto& e : *read) (void)engine::Apply(snap, table, e);
  }
  std::printf("%-34s %10.3f\n", "(a full fold from version 1)", Ms(Clock::now() - t0));
  store->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

// --- HTTP helpers ---------------------------------------------------------------------

struct Answer {
  unsigned status = 0;
  std::string body;
};

// One request on a fresh connection.
Answer Send(const bench::Target& t, http::verb verb, const std::string& target,
            const std::string& body = "") {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), t.port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + t.key);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  return {res.result_int(), res.body()};
}

std::string NowText() {
  return api::FormatInstant(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
}

std::string Event(uint64_t id, const std::string& job, const std::string& type,
                  const std::string& data = "") {
  return "{\"event_id\":\"" + bench::Uuid(id) + "\",\"job_id\":\"" + job + "\",\"type\":\"" +
         type + "\",\"occurred_at\":\"" + NowText() + "\"" +
         (data.empty() ? "" : ",\"data\":" + data) + "}";
}

std::string Batch(const std::vector<std::string>& events) { return bench::EventsBody(events); }

// VmRSS in MiB and CPU seconds (user + system) of a process.
double RssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  double kb = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> kb;
      break;
    }
  }
  return kb / 1024;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 1; in >> field && i <= 15; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// --- watchers ---------------------------------------------------------------------------

struct Watcher {
  std::vector<Clock::time_point> statuses;  // when each status event arrived
  std::string text;
  bool ended = false;
};

int Watchers(const bench::Target& t, pid_t server, double scale) {
  const int watchers = std::max(20, static_cast<int>(5000 * scale));
  const int jobs = std::max(2, watchers / 100);
  uint64_t id = 1'000'000;
  for (int j = 0; j < jobs; ++j) {
    const std::string job = "watched-" + std::to_string(j);
    Answer a = Send(t, http::verb::post, "/v2/events",
                    Batch({Event(++id, job, "job.created", R"({"collection_name":"w","job_type":"index_s3"})"),
                           Event(++id, job, "job.started")}));
    if (a.status != 200) {
      std::fprintf(stderr, "create: %u %s\n", a.status, a.body.c_str());
      return 1;
    }
  }
  const double rss_before = RssMiB(server);

  net::io_context ioc(1);
  std::vector<std::unique_ptr<Watcher>> ws;
  std::atomic<int> connected{0};
  std::mutex mu;  // guards every Watcher's statuses (read by the main thread)
  for (int w = 0; w < watchers; ++w) {
    ws.push_back(std::make_unique<Watcher>());
    Watcher* me = ws.back().get();
    const std::string job = "watched-" + std::to_string(w % jobs);
    net::co_spawn(ioc, [&, me, job]() -> net::awaitable<void> {
      beast::tcp_stream stream(co_await net::this_coro::executor);
      co_await stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), t.port),
                                    net::use_awaitable);
      http::request<http::empty_body> req{http::verb::get, "/v2/jobs/" + job + "/watch", 11};
      req.set(http::field::host, "127.0.0.1");
      req.set(http::field::authorization, "Bearer " + t.key);
      co_await http::async_write(stream, req, net::use_awaitable);
      beast::flat_buffer buffer;
      http::response_parser<http::empty_body> parser;
      parser.body_limit(boost::none);
      auto on_chunk = [&, me](std::uint64_t, beast::string_view body, beast::error_code&) {
        me->text.append(body.data(), body.size());
        for (size_t end; (end = me->text.find("\n\n")) != std::string::npos;) {
          if (me->text.starts_with("event: status")) {
            std::scoped_lock lock(mu);
            me->statuses.push_back(Clock::now());
          }
          me->text.erase(0, end + 2);
        }
        return body.size();
      };
      parser.on_chunk_body(on_chunk);
      co_await http::async_read_header(stream, buffer, parser, net::use_awaitable);
      ++connected;
      for (;;) {
        auto [ec, n] = co_await http::async_read_some(stream, buffer, parser,
                                                      net::as_tuple(net::use_awaitable));
        if (ec || parser.is_done()) break;
      }
      me->ended = true;
    }, [](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "watcher: %s\n", ex.what());
        }
      }
    });
  }
  std::thread client([&] { ioc.run(); });
  auto all_have = [&](size_t n) {
    std::scoped_lock lock(mu);
    for (const auto& w : ws) {
      if (w->statuses.size() < n) return false;
    }
    return true;
  };
  const auto open_start = Clock::now();
  while (!all_have(1) && Clock::now() - open_start < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double open_s = std::chrono::duration<double>(Clock::now() - open_start).count();
  const double rss_after = RssMiB(server);
  // Idle: nothing changes; the server should do (almost) nothing.
  const double idle_s = std::max(2.0, 10 * std::min(1.0, scale * 10));
  const double cpu0 = CpuSeconds(server);
  std::this_thread::sleep_for(std::chrono::duration<double>(idle_s));
  const double cpu_idle = CpuSeconds(server) - cpu0;

  // One change to every job: how long until every watcher has it.
  std::vector<Clock::time_point> sent(static_cast<size_t>(jobs));
  const double cpu1 = CpuSeconds(server);
  for (int j = 0; j < jobs; ++j) {
    sent[static_cast<size_t>(j)] = Clock::now();
    Send(t, http::verb::post, "/v2/events",
         Batch({Event(++id, "watched-" + std::to_string(j), "job.progress", R"({"message":"go"})")}));
  }
  const auto fan_start = Clock::now();
  while (!all_have(2) && Clock::now() - fan_start < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double cpu_fan = CpuSeconds(server) - cpu1;
  std::vector<double> delays;
  {
    std::scoped_lock lock(mu);
    for (size_t w = 0; w < ws.size(); ++w) {
      if (ws[w]->statuses.size() >= 2) {
        delays.push_back(Ms(ws[w]->statuses[1] - sent[w % static_cast<size_t>(jobs)]));
      }
    }
  }
  std::printf("watchers: %d SSE streams on %d jobs, all open and served their first status in %.2f s\n",
              connected.load(), jobs, open_s);
  std::printf("  server RSS %.1f MiB before, %.1f MiB with them: %.1f KiB a watcher\n", rss_before,
              rss_after, (rss_after - rss_before) * 1024 / std::max(1, watchers));
  std::printf("  server CPU while they idle %.1f s: %.3f s (%.2f%% of one core)\n", idle_s,
              cpu_idle, 100 * cpu_idle / idle_s);
  std::printf("  one change to each job reaches its watchers: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              " (%zu of %d got it; server CPU %.3f s)\n",
              Quantile(delays, 0.5), Quantile(delays, 0.99),
              delays.empty() ? 0 : *std::max_element(delays.begin(), delays.end()), delays.size(),
              watchers, cpu_fan);
  ioc.stop();
  client.join();
  return delays.size() == static_cast<size_t>(watchers) ? 0 : 1;
}

// --- feed wake-up -----------------------------------------------------------------------

int Feed(const bench::Target& t, double scale) {
  const int rounds = std::max(20, static_cast<int>(500 * scale));
  uint64_t id = 2'000'000;
  Answer created = Send(t, http::verb::post, "/v2/events",
                        Batch({Event(++id, "fed", "job.created", R"({"collection_name":"f","job_type":"index_s3"})")}));
  if (created.status != 200) return 1;
  int64_t from = boost::json::parse(created.body).at("results").at(0).at("position").as_int64();

  std::mutex mu;
  std::condition_variable cv;
  int received = 0;
  std::vector<Clock::time_point> got;
  std::thread consumer([&] {
    while (received < rounds) {
      Answer a = Send(t, http::verb::get,
                      "/v2/events?wait_ms=60000&from_position=" + std::to_string(from));
      const auto at = Clock::now();
      auto body = boost::json::parse(a.body);
      const size_t n = body.at("events").as_array().size();
      from = body.at("next_from_position").as_int64();
      std::scoped_lock lock(mu);
      for (size_t i = 0; i < n; ++i) got.push_back(at);
      received += static_cast<int>(n);
      cv.notify_all();
    }
  });
  std::vector<double> wake, ack;
  for (int i = 0; i < rounds; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the feed is waiting again
    const auto t0 = Clock::now();
    Send(t, http::verb::post, "/v2/events",
         Batch({Event(++id, "fed", "job.progress", R"({"message":"tick"})")}));
    ack.push_back(Ms(Clock::now() - t0));
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return received > i; });
    wake.push_back(Ms(got[static_cast<size_t>(i)] - t0));
  }
  consumer.join();
  std::printf("feed wake-up over %d appends: from the append's send to the feed's answer"
              " p50 %.2f ms, p99 %.2f ms (the append's own durable answer: p50 %.2f ms, p99 %.2f ms)\n",
              rounds, Quantile(wake, 0.5), Quantile(wake, 0.99), Quantile(ack, 0.5),
              Quantile(ack, 0.99));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/jobstated", only;
  double scale = 1.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--server") binary = argv[i + 1];
    if (flag == "--scale") scale = std::stod(argv[i + 1]);
    if (flag == "--only") only = argv[i + 1];
  }
  int rc = 0;
  if (only.empty() || only == "time_travel") rc |= TimeTravel(scale);
  if (only.empty() || only == "watchers" || only == "feed") {
    const std::string dir = (std::filesystem::temp_directory_path() / "jobstate-live-http").string();
    bench::Target t;
    const pid_t server = bench::StartServer(binary, dir, t);
    if (t.port == 0 || t.key.empty()) {
      std::fprintf(stderr, "jobstated did not start; see %s/server.log\n", dir.c_str());
      return 1;
    }
    if (only.empty() || only == "watchers") rc |= Watchers(t, server, scale);
    if (only.empty() || only == "feed") rc |= Feed(t, scale);
    const int status = bench::StopServer(server);
    rc |= WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
    std::filesystem::remove_all(dir);
  }
  return rc;
}
