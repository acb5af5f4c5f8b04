#pragma once
// The systems bench/compare drives side by side (issue #7), each started on loopback
// in a temporary folder by this process and stopped by it:
//
//   jobstate    jobstated, durability sync (its default), reached over HTTP/1.1
//   postgresql  PostgreSQL 15 (Debian's), defaults: synchronous commit, fsync on;
//               an events table with a unique event id plus a status table upserted
//               in the same statement (so the same transaction) per batch
//   redis       Redis 7 (Debian's), AOF with appendfsync always; XADD per event plus
//               a status hash per job, in one MULTI per batch
//   nginx       a static file of Jobstate's own status body (reads only)
//   rocksdb     the raw ceiling, in this process: the events straight into RocksDB,
//               one WriteBatch per batch with sync = true (ingest and scan only)
//
// Every system is reached through the same client machinery: one blocking connection
// per sender thread (bench/compare.cc drives them).
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_support.h"

namespace jobstate::bench::compare {

// One batch of a workload: its events, and the HTTP body that carries them.
struct Batch {
  std::vector<JsonEvent> events;
  std::string body;  // {"events":[...]}
};
Batch MakeBatch(std::vector<JsonEvent> events);

// A blocking HTTP/1.1 keep-alive client on loopback (Jobstate's API, nginx).
class HttpClient {
 public:
  struct Answer {
    unsigned status = 0;
    std::string body;
  };
  HttpClient(uint16_t port, std::string key);
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  ~HttpClient();
  Answer Get(const std::string& target);
  Answer Post(const std::string& target, const std::string& body);

 private:
  Answer Call(bool post, const std::string& target, const std::string& body);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One client connection; used by one thread at a time.
class Connection {
 public:
  virtual ~Connection() = default;
  // Stores the batch durably; false (after saying why, the first few times) if the
  // system refused it.
  virtual bool Ingest(const Batch& batch) = 0;
  // Reads a job's status; false if the answer was not a status.
  virtual bool ReadStatus(const std::string& job_id) = 0;
};

class System {
 public:
  virtual ~System() = default;
  virtual std::string name() const = 0;
  virtual bool ingests() const { return true; }
  virtual bool serves_status() const { return true; }
  // Starts the system in `dir` (created, empty); throws std::runtime_error on failure.
  virtual void Start(const std::string& dir) = 0;
  virtual void Stop() = 0;
  virtual std::unique_ptr<Connection> Connect() = 0;
  // The server processes, for memory; empty when it runs in this process.
  virtual std::vector<pid_t> processes() const = 0;
  // Reads the whole log back (Jobstate: stops and replays it); events, and seconds.
  struct ReadBack {
    uint64_t events = 0;
    double seconds = 0;
    std::string how;
  };
  virtual ReadBack ReadEverything() = 0;
};

struct Paths {
  std::string jobstated = "build/jobstated";
  std::string jobctl = "build/jobctl";
};

// Jobstate, and how to reach its API directly (for the workloads only it serves).
class JobstateSystem : public System {
 public:
  virtual HttpClient Client() const = 0;
  // The status read: the status with a page of one file, so that its body is about
  // the size of nginx's 2 KB file (nginx serves this very body).
  static constexpr const char* kStatusTarget = "/v2/jobs/{id}?files_limit=1";
};

std::unique_ptr<JobstateSystem> MakeJobstate(const Paths& paths);
std::unique_ptr<System> MakePostgres();
std::unique_ptr<System> MakeRedis();
// Serves `body` as a static file.
std::unique_ptr<System> MakeNginx(std::string body);
std::unique_ptr<System> MakeRawRocksDb();

// Proportional set size of `pids` and all their descendants, in bytes (shared pages
// counted once across them).
uint64_t PssBytes(const std::vector<pid_t>& pids);

}  // namespace jobstate::bench::compare
