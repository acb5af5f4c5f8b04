// End-to-end load over HTTP/1.1 keep-alive against a real jobstated (started here on a
// temporary data dir, loopback only):
//
//   http_load [--server build/jobstated] [--scale X] [--seconds S]
//
//   ingest, 8 workers x batches of 100     events/s   (target >= 100k on 2 cores)
//   ingest, 64 workers x single events     events/s   (target >= 40k)
//   GET /v2/jobs/{id}, 32 connections      req/s, p50/p99 (target p99 <= 5 ms)
//   file page deep in a 1,000,000-file job p50/p99   (target p99 <= 2 ms)
//   running jobs past 20,000 completed     req/s, p50/p99 (no target; the status index)
//
// The client runs on one thread with one coroutine per connection, so it takes at most
// one of the machine's cores; the server gets the rest.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "bench/bench_support.h"

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using jobstate::bench::EventsBody;
using jobstate::bench::JobEventsJson;
using jobstate::bench::StartServer;
using jobstate::bench::Target;
using jobstate::bench::Uuid;

// Bodies of `batch` events each, from jobs of 250 files, for one worker.
std::vector<std::string> Bodies(const std::string& prefix, size_t events, size_t batch, uint64_t& id) {
  std::vector<std::string> all;
  for (int j = 0; all.size() < events; ++j) {
    for (auto& e : JobEventsJson(prefix + "-" + std::to_string(j), 250, id)) all.push_back(std::move(e.json));
  }
  all.resize(events);
  std::vector<std::string> bodies;
  for (size_t i = 0; i < all.size(); i += batch) {
    bodies.push_back(EventsBody(std::span(all).subspan(i, std::min(batch, all.size() - i))));
  }
  return bodies;
}

// What the client needs of an answer's head (up to and with its blank line).
struct Answer {
  int status = 0;
  size_t content_length = 0;
};

// Every answer this client asks for carries a Content-Length: a chunked one (a
// streamed body) would be misread, so it stops the run.
Answer ParseHead(std::string_view head) {
  Answer a;
  if (head.size() < 12 || !head.starts_with("HTTP/1.1 "))
    throw std::runtime_error("not an HTTP/1.1 answer");
  std::from_chars(head.data() + 9, head.data() + 12, a.status);
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return std::tolower(ch); });
  const size_t at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos)
    throw std::runtime_error("an answer without Content-Length");
  const char* p = lower.data() + at + 17;
  while (*p == ' ') ++p;
  std::from_chars(p, lower.data() + lower.size(), a.content_length);
  return a;
}

struct Run {
  size_t requests = 0, failures = 0;
  std::vector<double> latencies_ms;
  double seconds = 0;
  double p(double q) {
    if (latencies_ms.empty()) return 0;
    std::sort(latencies_ms.begin(), latencies_ms.end());
    return latencies_ms[std::min(latencies_ms.size() - 1, static_cast<size_t>(q * latencies_ms.size()))];
  }
};

// One request of a workload: its method, target and (for a POST) JSON body.
struct Request {
  const char* method = "GET";
  std::string_view target;            // owned by the caller, like the body
  const std::string* body = nullptr;  // owned by the caller; outlives the request
};

// Runs `connections` keep-alive connections; connection c sends make(c, i) for
// i = 0, 1, ... until make returns false or `deadline` passes.
using MakeRequest = std::function<bool(size_t c, size_t i, Request&)>;

// The client shares the machine's two cores with the server, so it does as little as
// wrk would: a request goes out as its head, written into a string kept per
// connection, and the caller's body, in one gather write; an answer is read as its
// status line and Content-Length, with no header map or body object. Every answer's
// status is still checked, and the body of a failure printed.
Run Drive(const Target& t, size_t connections, Clock::duration deadline, const MakeRequest& make) {
  net::io_context ioc(1);
  Run run;
  const auto start = Clock::now();
  const std::string auth = "Authorization: Bearer " + t.key + "\r\n";
  for (size_t c = 0; c < connections; ++c) {
    net::co_spawn(
        ioc,
        [&, c]() -> net::awaitable<void> {
          tcp::socket socket(co_await net::this_coro::executor);
          co_await socket.async_connect(
              tcp::endpoint(net::ip::make_address("127.0.0.1"), t.port),
              net::use_awaitable);
          std::string head, in;
          auto buffer = net::dynamic_buffer(in);
          for (size_t i = 0; Clock::now() - start < deadline; ++i) {
            Request req;
            if (!make(c, i, req)) break;
            head.assign(req.method)
                .append(" ")
                .append(req.target)
                .append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            head.append(auth);
            if (req.body) {
              head.append("Content-Type: application/json\r\nContent-Length: ")
                  .append(std::to_string(req.body->size()))
                  .append("\r\n");
            }
            head.append("\r\n");
            const std::array<net::const_buffer, 2> out{
                net::buffer(head),
                req.body ? net::buffer(*req.body) : net::const_buffer()};
            const auto t0 = Clock::now();
            co_await net::async_write(socket, out, net::use_awaitable);
            const size_t head_end = co_await net::async_read_until(
                socket, buffer, "\r\n\r\n", net::use_awaitable);
            const Answer a = ParseHead(std::string_view(in).substr(0, head_end));
            if (head_end + a.content_length > in.size()) {
              co_await net::async_read(
                  socket, buffer,
                  net::transfer_exactly(head_end + a.content_length - in.size()),
                  net::use_awaitable);
            }
            run.latencies_ms.push_back(
                std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            ++run.requests;
            if (a.status != 200) {
              if (++run.failures < 3) {
                std::fprintf(stderr, "  answer %d: %.200s\n", a.status,
                             in.substr(head_end).c_str());
              }
            }
            buffer.consume(head_end + a.content_length);
          }
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
  ioc.run();
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

// One row of the table: the rate (requests, times `per_request` items, a second), the
// latency percentiles, and the failures (plus `extra_failures` from a setup run).
void Report(const std::string& label, Run& r, size_t per_request = 1,
            size_t extra_failures = 0) {
  std::printf("%-40s %9.0f/s %10.2f %10.2f %8zu\n", label.c_str(),
              static_cast<double>(r.requests * per_request) / r.seconds, r.p(0.5),
              r.p(0.99), r.failures + extra_failures);
  std::fflush(stdout);
}

// One connection posting each of `bodies` to /v2/events in turn (setting up a workload).
Run PostAll(const Target& t, const std::vector<std::string>& bodies) {
  return Drive(t, 1, std::chrono::hours(1), [&](size_t, size_t i, Request& req) {
    if (i >= bodies.size()) return false;
    req = Request{"POST", "/v2/events", &bodies[i]};
    return true;
  });
}

// `connections` connections sending GET `target` until `deadline`.
Run DriveGets(const Target& t, size_t connections, Clock::duration deadline,
              const std::string& target) {
  return Drive(t, connections, deadline, [&](size_t, size_t, Request& req) {
    req.target = target;
    return true;
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary = "build/jobstated";
  double scale = 1.0, seconds = 5.0;
  std::string only;  // run only the workloads whose label contains this
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--server") binary = argv[i + 1];
    if (flag == "--scale") scale = std::stod(argv[i + 1]);
    if (flag == "--seconds") seconds = std::stod(argv[i + 1]);
    if (flag == "--only") only = argv[i + 1];
  }
  const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const std::string dir = (std::filesystem::temp_directory_path() / "jobstate-http-load").string();
  Target t{0, ""};
  const pid_t server = StartServer(binary, dir, t);
  if (t.port == 0 || t.key.empty()) {
    std::fprintf(stderr, "jobstated did not start; see %s/server.log\n", dir.c_str());
    return 1;
  }
  uint64_t id = 0;
  std::printf("%-40s %12s %10s %10s %8s\n", "workload", "rate", "p50 ms", "p99 ms", "errors");

  // Durable ingest.
  for (auto [workers, batch, events, label] :
       {std::tuple<size_t, size_t, size_t, const char*>{8, 100, 400'000, "ingest, 8 workers x batch 100"},
        {64, 1, 100'000, "ingest, 64 workers x single events"}}) {
    if (!only.empty() && std::string(label).find(only) == std::string::npos) continue;
    std::vector<std::vector<std::string>> bodies(workers);
    for (size_t w = 0; w < workers; ++w) {
      bodies[w] = Bodies(std::string("w") + std::to_string(batch) + "-" + std::to_string(w),
                         std::max<size_t>(batch, static_cast<size_t>(events * scale / workers)), batch, id);
    }
    Run r = Drive(t, workers, limit, [&](size_t c, size_t i, Request& req) {
      if (i >= bodies[c].size()) return false;
      req = Request{"POST", "/v2/events", &bodies[c][i]};
      return true;
    });
    Report(label, r, batch);
  }

  if (!only.empty()) {  // the read workloads need the ingest above: run all or none
    jobstate::bench::StopServer(server);
    return 0;
  }
  // Status reads.
  Run reads = DriveGets(t, 32, limit, "/v2/jobs/w100-0-0");
  Report("GET /v2/jobs/{id}, 32 connections", reads);

  // A page deep in a job of 1,000,000 files.
  const int files = std::max(1000, static_cast<int>(1'000'000 * scale));
  std::vector<std::string> discover = {
      "{\"events\":[" + JobEventsJson("huge", 0, id)[0].json + "]}"};
  for (int f = 0; f < files; f += 1000) {
    std::string list;
    for (int k = f; k < std::min(files, f + 1000); ++k) {
      list += std::string(k > f ? "," : "") + "{\"uri\":\"s3://huge/" + std::to_string(k) + "\",\"size_bytes\":1}";
    }
    discover.push_back("{\"events\":[{\"event_id\":\"" + Uuid(++id) + "\",\"job_id\":\"huge\",\"type\":"
                       "\"files.discovered\",\"occurred_at\":\"2026-01-01T00:00:00Z\",\"data\":{\"files\":[" + list + "]}}]}");
  }
  const auto t0 = Clock::now();
  Run loaded = PostAll(t, discover);
  std::printf("%-40s %9.0f/s %10s %10s %8zu\n", "  (loading the files, rows/s)",
              files / std::chrono::duration<double>(Clock::now() - t0).count(), "", "", loaded.failures);
  // Walk to ~90% of the job with pages of 500, then read that page again and again.
  std::string cursor;
  for (int page = 0; page < files * 9 / 10 / 500; ++page) {
    net::io_context ioc;
    beast::tcp_stream s(ioc);
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), t.port));
    http::request<http::string_body> req{http::verb::get,
        "/v2/jobs/huge/files?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor), 11};
    req.set(http::field::authorization, "Bearer " + t.key);
    http::write(s, req);
    beast::flat_buffer b;
    http::response<http::string_body> res;
    http::read(s, b, res);
    auto next = boost::json::parse(res.body()).at("files_page").at("next_cursor");
    if (!next.is_string()) break;
    cursor = std::string(next.as_string());
  }
  const std::string deep = "/v2/jobs/huge/files?limit=50&cursor=" + cursor;
  Run pages = DriveGets(t, 1, limit, deep);
  Report("file page (50) at 90% of a 1M-file job", pages);

  // A page of running jobs among many completed ones created after them: the status
  // filter reads jobs_by_org_status (and a collection filter jobs_by_org_filter), so
  // the page costs the page, not the jobs passed over.
  const int completed = std::max(1000, static_cast<int>(20'000 * scale));
  // Created after the ingest's jobs (a minute ago), which are the running ones.
  const std::string recent = jobstate::api::FormatInstant(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch()).count() - 30'000);
  std::vector<std::string> finished;
  for (int j = 0; j < completed; j += 100) {
    std::string list;
    for (int k = j; k < std::min(completed, j + 100); ++k) {
      const std::string job = "done-" + std::to_string(k);
      for (const char* type : {"job.created", "job.started", "job.completed"}) {
        list += std::string(list.empty() ? "" : ",") + "{\"event_id\":\"" + Uuid(++id) +
                "\",\"job_id\":\"" + job + "\",\"type\":\"" + type +
                "\",\"occurred_at\":\"" + recent + "\"" +
                (std::string(type) == "job.created"
                     ? ",\"data\":{\"collection_name\":\"c\",\"job_type\":\"index_s3\"}}"
                     : "}");
      }
    }
    finished.push_back("{\"events\":[" + list + "]}");
  }
  Run finishing = PostAll(t, finished);
  const std::string behind = std::to_string(completed / 1000) + "k";
  Run listing = DriveGets(t, 8, limit, "/v2/jobs?status=running&limit=50");
  Report("GET /v2/jobs?status=running, " + behind + " done", listing, 1,
         finishing.failures);
  // The same jobs by collection: the ingest's jobs are in "bench", the completed ones
  // in "c", and jobs_by_org_filter holds each collection's jobs apart.
  Run by_collection = DriveGets(t, 8, limit, "/v2/jobs?collection_name=bench&limit=50");
  Report("GET /v2/jobs?collection_name=bench, " + behind + " in c", by_collection);

  const int status = jobstate::bench::StopServer(server);
  std::filesystem::remove_all(dir);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
