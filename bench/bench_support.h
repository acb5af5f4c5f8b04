#pragma once
// What the benchmarks share: event ids, a realistic job as engine events, and a
// jobstated started on a temporary data dir (loopback only).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "api/time_format.h"
#include "engine/event.h"

namespace jobstate::bench {

inline std::string Uuid(uint64_t n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-0000-4000-8000-%012llx",
                static_cast<unsigned long long>(n >> 48),
                static_cast<unsigned long long>(n & 0xffffffffffffULL));
  return buf;
}

// A realistic job: created, started, scanning, discovered in events of 100 files, then
// every file started, two progress events, completed.
inline std::vector<engine::Event> JobEvents(const std::string& job_id, int files, uint64_t& id,
                                     engine::Millis t) {
  std::vector<engine::Event> out;
  auto add = [&](engine::Payload p) {
    engine::Event e;
    e.event_id = Uuid(++id);
    e.job_id = job_id;
    e.occurred_at = t++;
    e.worker_id = "worker-1";
    e.data = std::move(p);
    out.push_back(std::move(e));
  };
  engine::JobCreated c;
  c.collection_name = "bench";
  add(c);
  add(engine::JobStarted{});
  add(engine::StageStarted{engine::Stage::kScanning});
  for (int f = 0; f < files; f += 100) {
    engine::FilesDiscovered d;
    for (int k = f; k < std::min(files, f + 100); ++k) {
      d.files.push_back({"s3://bench/" + job_id + "/doc-" + std::to_string(k) + ".pdf",
                         "doc.pdf", 100'000 + k, "application/pdf"});
    }
    add(d);
  }
  for (int f = 0; f < files; ++f) {
    const std::string uri = "s3://bench/" + job_id + "/doc-" + std::to_string(f) + ".pdf";
    add(engine::FileStarted{uri, engine::Stage::kExtracting});
    add(engine::FileProgress{uri, engine::Stage::kChunking, engine::FilePhase::kStarted, {}});
    add(engine::FileProgress{uri, engine::Stage::kEmbedding, engine::FilePhase::kStarted, {}});
    add(engine::FileCompleted{uri, 12, 3000, 4});
  }
  return out;
}

// One event of a JSON workload: the whole object, and the parts other stores key on.
struct JsonEvent {
  std::string event_id, job_id, type, json;
};

inline const std::string& JsonOf(const std::string& json) { return json; }
inline const std::string& JsonOf(const JsonEvent& e) { return e.json; }

// The body of POST /v2/events that carries `events` (JSON texts or JsonEvents), in order.
template <class Events>
std::string EventsBody(const Events& events) {
  std::string body = "{\"events\":[";
  bool first = true;
  for (const auto& e : events) {
    if (!first) body += ',';
    first = false;
    body += JsonOf(e);
  }
  return body + "]}";
}

// The same realistic job as JobEvents, as the JSON a worker posts: created, started,
// discovered by 100, then each file started, two progress events and completed; and,
// when `complete`, the job completed.
inline std::vector<JsonEvent> JobEventsJson(const std::string& job, int files, uint64_t& id,
                                            bool complete = false) {
  static const std::string at = api::FormatInstant(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch()).count() - 60'000);
  std::vector<JsonEvent> out;
  auto add = [&](const std::string& type, const std::string& data) {
    JsonEvent e{Uuid(++id), job, type, ""};
    e.json = "{\"event_id\":\"" + e.event_id + "\",\"job_id\":\"" + job + "\",\"type\":\"" +
             type + "\",\"occurred_at\":\"" + at + "\",\"worker_id\":\"w1\"" +
             (data.empty() ? "" : ",\"data\":" + data) + "}";
    out.push_back(std::move(e));
  };
  add("job.created", R"({"collection_name":"bench","job_type":"index_s3"})");
  add("job.started", "");
  for (int f = 0; f < files; f += 100) {
    std::string list;
    for (int k = f; k < std::min(files, f + 100); ++k) {
      list += std::string(k > f ? "," : "") + "{\"uri\":\"s3://bench/" + job + "/" +
              std::to_string(k) + ".pdf\",\"size_bytes\":" + std::to_string(100000 + k) + "}";
    }
    add("files.discovered", "{\"files\":[" + list + "]}");
  }
  for (int f = 0; f < files; ++f) {
    const std::string uri = "\"uri\":\"s3://bench/" + job + "/" + std::to_string(f) + ".pdf\"";
    add("file.started", "{" + uri + ",\"stage\":\"extracting\"}");
    add("file.progress", "{" + uri + ",\"stage\":\"chunking\"}");
    add("file.progress", "{" + uri + ",\"stage\":\"embedding\"}");
    add("file.completed", "{" + uri + ",\"pages\":4,\"chunks\":12,\"tokens\":3000}");
  }
  if (complete) add("job.completed", "");
  return out;
}

// A running jobstated: its port and development key.
struct Target {
  uint16_t port = 0;
  std::string key;
};

// Starts `binary` on a fresh data dir under `dir` (its log in dir/server.log) and waits
// for its port file. On failure t.port stays 0.
inline pid_t StartServer(const std::string& binary, const std::string& dir, Target& t) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string port_file = dir + "/port";
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string data = dir + "/data", log = dir + "/server.log";
    freopen(log.c_str(), "w", stderr);
    execl(binary.c_str(), "jobstated", "--data-dir", data.c_str(), "--listen", "127.0.0.1:0",
          "--port-file", port_file.c_str(), nullptr);
    _exit(127);
  }
  for (int i = 0; i < 400 && t.port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::ifstream in(port_file);
    in >> t.port;
  }
  std::ifstream key(dir + "/data/dev-api-key");
  key >> t.key;
  return pid;
}


// Stops a server started by StartServer with SIGTERM; its exit status.
inline int StopServer(pid_t pid) {
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace jobstate::bench
