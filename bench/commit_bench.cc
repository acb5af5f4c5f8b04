// Commit-path throughput with sync = true, against the raw RocksDB ceiling for the same
// data, measured in the same run:
//
//   commit_bench [--dir DIR] [--scale X]
//
// Configurations: batches of 1, 10, 100 and 1000 events from one producer, and 64
// concurrent producers of single events. "commit path" is Store::Append (validate,
// dedupe, fold, events + log + dedupe + snapshots + file rows + indexes in one synced
// WriteBatch). "raw" writes the same events, already encoded, plus one snapshot-sized
// value per distinct job in the batch, as one synced WriteBatch per batch, to a plain
// RocksDB with default options: the ceiling the issue names.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <rocksdb/db.h>

#include "engine/clock.h"
#include "storage/codec.h"
#include "storage/internal/db.h"
#include "storage/store.h"
#include "bench/bench_support.h"

namespace {

using namespace jobstate;
using bench::JobEvents;
using Clock = std::chrono::steady_clock;

// Events of `jobs` jobs one after another, cut into batches of `size`.
std::vector<std::vector<engine::Event>> Batches(const std::string& prefix, size_t total,
                                                size_t size, engine::Millis t) {
  std::vector<engine::Event> all;
  uint64_t id = std::hash<std::string>{}(prefix) & 0xffffffff;
  for (int j = 0; all.size() < total; ++j) {
    auto events = JobEvents(prefix + "-" + std::to_string(j), 250, id, t);
    all.insert(all.end(), events.begin(), events.end());
  }
  all.resize(total);
  std::vector<std::vector<engine::Event>> out;
  for (size_t i = 0; i < all.size(); i += size) {
    out.emplace_back(all.begin() + i, all.begin() + std::min(all.size(), i + size));
  }
  return out;
}

struct Figures {
  double events_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
};

Figures Summarize(size_t events, double seconds, std::vector<double>& latencies_ms) {
  std::sort(latencies_ms.begin(), latencies_ms.end());
  Figures f;
  f.events_per_s = static_cast<double>(events) / seconds;
  if (!latencies_ms.empty()) {
    f.p50_ms = latencies_ms[latencies_ms.size() / 2];
    f.p99_ms = latencies_ms[latencies_ms.size() * 99 / 100];
  }
  return f;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Runs `producers` threads; producer p makes calls p, p + producers, ... of `one`
// (which does call i and returns false on failure), timing each call.
Figures RunThreads(size_t producers, size_t calls, size_t events,
                   const std::function<bool(size_t)>& one) {
  std::vector<std::vector<double>> lat(producers);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (size_t i = p; i < calls; i += producers) {
        const auto t0 = Clock::now();
        if (!one(i)) std::exit(1);
        lat[p].push_back(Seconds(t0, Clock::now()) * 1000);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = Seconds(start, Clock::now());
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  return Summarize(events, secs, all);
}

// ---- commit path ------------------------------------------------------------------

std::unique_ptr<storage::Store> OpenStore(const std::string& dir, const engine::Clock& clock) {
  std::filesystem::remove_all(dir);
  storage::StoreOptions options;
  options.path = dir;
  auto store = storage::Store::Open(options, clock);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

Figures RunCommitPath(const std::string& dir, const std::vector<std::vector<engine::Event>>& batches,
                      size_t producers, const engine::Clock& clock) {
  auto store = OpenStore(dir, clock);
  size_t events = 0;
  for (const auto& b : batches) events += b.size();
  // Producer p takes batches p, p + producers, ...: the workload gives each producer
  // its own jobs, so each keeps to its jobs' order.
  return RunThreads(producers, batches.size(), events, [&](size_t i) {
    auto r = store->Append({"bench", "bench", batches[i], {}});
    if (!r) std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
    return r.has_value();
  });
}

// 64 concurrent producers as a server has them: each keeps one request outstanding
// and sends the next from the acknowledgement's callback, without an OS thread each.
Figures RunCommitPathAsync(const std::string& dir,
                           const std::vector<std::vector<engine::Event>>& batches,
                           size_t producers, const engine::Clock& clock) {
  auto store = OpenStore(dir, clock);
  std::vector<Clock::time_point> sent(batches.size());
  std::vector<double> lat(batches.size());
  std::mutex mu;
  std::condition_variable cv;
  size_t finished = 0;
  size_t events = 0;
  for (const auto& b : batches) events += b.size();
  std::function<void(size_t)> send = [&](size_t i) {
    sent[i] = Clock::now();
    store->Submit({"bench", "bench", batches[i], {}}, [&, i](Result<engine::AppendResult> r) {
      if (!r) {
        std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
        std::exit(1);
      }
      lat[i] = Seconds(sent[i], Clock::now()) * 1000;
      if (i + producers < batches.size()) {
        send(i + producers);  // this producer's next batch
      } else {
        std::scoped_lock lock(mu);
        ++finished;
        cv.notify_one();
      }
    });
  };
  const auto start = Clock::now();
  for (size_t p = 0; p < producers && p < batches.size(); ++p) send(p);
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return finished == std::min(producers, batches.size()); });
  }
  const double secs = Seconds(start, Clock::now());
  return Summarize(events, secs, lat);
}

// ---- raw ceiling ------------------------------------------------------------------

struct RawBatch {
  std::vector<std::pair<std::string, std::string>> events;     // key, encoded event
  std::vector<std::pair<std::string, std::string>> snapshots;  // one per job in the batch
  size_t event_count = 0;
};

std::vector<RawBatch> Encode(const std::vector<std::vector<engine::Event>>& batches) {
  std::map<std::string, uint64_t> versions;
  std::map<std::string, uint64_t> jids;
  const std::string snapshot_value = storage::EncodeSnapshot([] {
    engine::JobSnapshot s;
    s.org = "bench";
    s.job_id = "bench-0";
    s.collection_name = "bench";
    s.version = 1000;
    return s;
  }());
  uint64_t position = 0;
  std::vector<RawBatch> out;
  for (const auto& batch : batches) {
    RawBatch rb;
    std::map<std::string, bool> jobs;
    for (const auto& e : batch) {
      const uint64_t jid = jids.emplace(e.job_id, jids.size() + 1).first->second;
      const uint64_t v = ++versions[e.job_id];
      std::string key(16, '\0');
      for (int i = 0; i < 8; ++i) {
        key[i] = static_cast<char>(jid >> (56 - 8 * i));
        key[8 + i] = static_cast<char>(v >> (56 - 8 * i));
      }
      rb.events.emplace_back(key, storage::EncodeEvent({e, v, ++position, 0}));
      jobs[e.job_id] = true;
    }
    for (const auto& [job, _] : jobs) {
      rb.snapshots.emplace_back(std::string(8, '\0') + job, snapshot_value);
    }
    rb.event_count = batch.size();
    out.push_back(std::move(rb));
  }
  return out;
}

Figures RunRaw(const std::string& dir, const std::vector<RawBatch>& batches, size_t producers) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto opened = storage::Db::Open({dir});
  if (!opened) {
    std::fprintf(stderr, "open raw: %s\n", opened.error().ToString().c_str());
    std::exit(1);
  }
  const storage::Db& db = **opened;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  size_t events = 0;
  for (const auto& b : batches) events += b.event_count;
  return RunThreads(producers, batches.size(), events, [&](size_t i) {
    rocksdb::WriteBatch wb;
    for (const auto& [k, v] : batches[i].events) wb.Put(db.cf(storage::Cf::kEvents), k, v);
    for (const auto& [k, v] : batches[i].snapshots) wb.Put(db.cf(storage::Cf::kSnapshots), k, v);
    return db.get()->Write(wo, &wb).ok();
  });
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = (std::filesystem::temp_directory_path() / "jobstate-commit-bench").string();
  double scale = 1.0;
  std::string only;  // run just the configurations whose name contains this
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--scale") scale = std::stod(argv[i + 1]);
    if (flag == "--only") only = argv[i + 1];
  }
  engine::SystemClock clock;
  const engine::Millis t = clock.NowMillis() - 3'600'000;
  struct Config {
    const char* name;
    size_t batch;
    size_t producers;
    size_t events;
    bool threads;
  };
  // `threads`: each producer is an OS thread blocked in Append (the way RocksDB's own
  // writers work); otherwise producers keep a request outstanding through Submit's
  // callback, as the HTTP server does.
  const Config configs[] = {
      {"batch 1, 1 producer", 1, 1, 4'000, false},
      {"batch 10, 1 producer", 10, 1, 30'000, false},
      {"batch 100, 1 producer", 100, 1, 200'000, false},
      {"batch 1000, 1 producer", 1000, 1, 400'000, false},
      {"batch 100, 8 producers", 100, 8, 400'000, false},
      {"batch 1, 64 producers", 1, 64, 100'000, false},
      {"batch 1, 64 threads", 1, 64, 100'000, true},
  };
  std::printf("%-24s %14s %10s %10s %14s %10s %8s\n", "configuration", "commit ev/s",
              "p50 ms", "p99 ms", "raw ev/s", "raw p99", "ratio");
  for (const Config& c : configs) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    const size_t events = std::max<size_t>(c.batch * c.producers,
                                           static_cast<size_t>(c.events * scale));
    // With many producers, each producer drives its own jobs: batches are dealt
    // round-robin, so the workload gives every producer a separate job stream.
    std::vector<std::vector<engine::Event>> batches;
    if (c.producers == 1) {
      batches = Batches("job", events, c.batch, t);
    } else {
      std::vector<std::vector<std::vector<engine::Event>>> per(c.producers);
      for (size_t p = 0; p < c.producers; ++p) {
        per[p] = Batches("p" + std::to_string(p), events / c.producers, c.batch, t);
      }
      for (size_t i = 0; i < per[0].size(); ++i) {
        for (size_t p = 0; p < c.producers; ++p) {
          if (i < per[p].size()) batches.push_back(per[p][i]);
        }
      }
    }
    const auto raw_batches = Encode(batches);
    const Figures commit =
        c.producers > 1 && !c.threads
            ? RunCommitPathAsync(dir + "/commit", batches, c.producers, clock)
            : RunCommitPath(dir + "/commit", batches, c.producers, clock);
    const Figures raw = RunRaw(dir + "/raw", raw_batches, c.producers);
    std::printf("%-24s %14.0f %10.2f %10.2f %14.0f %10.2f %8.2f\n", c.name,
                commit.events_per_s, commit.p50_ms, commit.p99_ms, raw.events_per_s,
                raw.p99_ms, commit.events_per_s / raw.events_per_s);
    std::fflush(stdout);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
