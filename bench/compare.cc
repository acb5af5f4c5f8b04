// Jobstate side by side with what users would pick instead (issue #7). Run it through
// `bench/compare`, which installs the servers first:
//
//   compare_bench [--scale X] [--seconds S] [--reps R] [--json FILE] [--dir DIR]
//                 [--systems a,b,...] [--no-sweep] [--only LABEL] [--jobstated P] [--jobctl P]
//
// Starts Jobstate, PostgreSQL 15, Redis 7 (AOF, appendfsync always), nginx (a static
// copy of Jobstate's status body) and a raw RocksDB in folders under DIR, loopback
// only, and drives the same workloads against each through the same client
// machinery (one blocking connection per sender thread):
//
//   ingest  batch 1 x 1 sender, batch 100 x 8 senders, single events x 64 senders
//   reads   a job's status, 32 and 128 connections
//   page    a file page at 90% of a job of 1,000,000 x scale files (Jobstate only;
//           the other designs keep no file rows)
//   sweep   a fresh store grown to 1, 3 and 10 million x scale events (100 events a
//           job): ingest rate, read rate and memory (PSS of the server's processes)
//           at each size, then the whole log read back (Jobstate: `jobctl replay`)
//
// Repetitions are interleaved (each repetition runs every system once) so that
// machine noise hits all alike; the report gives medians with min-max and the ratios,
// and the JSON file has every figure. Every process started here is stopped, and DIR
// removed, at the end.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "bench/compare_systems.h"

namespace {

using namespace jobstate::bench;
using namespace jobstate::bench::compare;
namespace fs = std::filesystem;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

struct Options {
  double scale = 1.0;
  double seconds = 5.0;
  int reps = 3;
  std::string json_path = "build/compare.json";
  std::string dir = (fs::temp_directory_path() / "jobstate-compare").string();
  std::vector<std::string> systems = {"jobstate", "postgresql", "redis", "nginx", "rocksdb"};
  bool sweep = true;
  std::string only;  // run only the short workloads whose label contains this
  Paths paths;
};

// --- driving ------------------------------------------------------------------------------

struct Sample {
  double rate = 0;  // units (events or requests) per second
  double p50_ms = 0, p99_ms = 0;
  uint64_t units = 0, errors = 0;
  double seconds = 0;
};

// What one sender does for its i-th request: the units done, 0 when it has no more,
// or -1 when the system refused.
using Op = std::function<int(Connection&, size_t sender, size_t i)>;

using Connect = std::function<std::unique_ptr<Connection>()>;

Sample Drive(const Connect& connect, size_t senders, double seconds, const Op& op) {
  std::vector<std::unique_ptr<Connection>> connections;
  for (size_t s = 0; s < senders; ++s) connections.push_back(connect());
  std::vector<std::vector<double>> latencies(senders);
  std::atomic<uint64_t> units{0}, errors{0};
  std::latch ready(static_cast<std::ptrdiff_t>(senders) + 1);
  Clock::time_point start;
  const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (size_t s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      ready.arrive_and_wait();
      auto& mine = latencies[s];
      for (size_t i = 0; Clock::now() - start < limit; ++i) {
        const auto t0 = Clock::now();
        const int done = op(*connections[s], s, i);
        if (done == 0) break;
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (done < 0) {
          ++errors;
        } else {
          units += static_cast<uint64_t>(done);
        }
      }
    });
  }
  start = Clock::now();
  ready.arrive_and_wait();
  for (auto& t : threads) t.join();
  Sample out;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto q = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())))];
  };
  out.p50_ms = q(0.5);
  out.p99_ms = q(0.99);
  out.units = units;
  out.errors = errors;
  out.rate = static_cast<double>(units) / out.seconds;
  return out;
}

// Batches of `batch` events for each of `senders`, `events` in all, from jobs of
// `files` files whose ids start with `prefix` (unique per system and run: nothing
// is a duplicate). The jobs end with job.completed, as real ones do (24 files make
// 100 events): the memory after N events is that of finished jobs, not of jobs that
// were left running forever.
std::vector<std::vector<Batch>> Batches(const std::string& prefix, size_t senders, size_t batch,
                                        size_t events, int files, uint64_t& id) {
  std::vector<std::vector<Batch>> out(senders);
  const size_t per_sender = std::max<size_t>(batch, events / senders);
  for (size_t s = 0; s < senders; ++s) {
    std::vector<JsonEvent> pending;
    size_t made = 0;
    for (int j = 0; made < per_sender; ++j) {
      auto job = JobEventsJson(prefix + "-s" + std::to_string(s) + "-j" + std::to_string(j), files, id,
                               /*complete=*/true);
      for (auto& e : job) {
        if (made == per_sender) break;
        pending.push_back(std::move(e));
        ++made;
        if (pending.size() == batch) out[s].push_back(MakeBatch(std::exchange(pending, {})));
      }
    }
    if (!pending.empty()) out[s].push_back(MakeBatch(std::move(pending)));
  }
  return out;
}

Sample Ingest(System& system, const std::vector<std::vector<Batch>>& batches, double seconds) {
  return Drive([&] { return system.Connect(); }, batches.size(), seconds,
               [&](Connection& c, size_t s, size_t i) -> int {
    if (i >= batches[s].size()) return 0;
    return c.Ingest(batches[s][i]) ? static_cast<int>(batches[s][i].events.size()) : -1;
  });
}

Sample Reads(System& system, size_t connections, double seconds, const std::string& job) {
  return Drive([&] { return system.Connect(); }, connections, seconds,
               [&](Connection& c, size_t, size_t) { return c.ReadStatus(job) ? 1 : -1; });
}

// --- the report ---------------------------------------------------------------------------

struct Figures {
  std::vector<double> values;
  double median() const {
    if (values.empty()) return 0;
    auto v = values;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
  double min() const { return values.empty() ? 0 : *std::min_element(values.begin(), values.end()); }
  double max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }
};

// workload -> system -> measure ("rate", "p99_ms", ...) -> one figure per repetition
using Results = std::map<std::string, std::map<std::string, std::map<std::string, Figures>>>;

void Record(Results& r, const std::string& workload, const std::string& system, const Sample& s) {
  auto& m = r[workload][system];
  m["rate"].values.push_back(s.rate);
  m["p50_ms"].values.push_back(s.p50_ms);
  m["p99_ms"].values.push_back(s.p99_ms);
  m["errors"].values.push_back(static_cast<double>(s.errors));
}

std::string Human(double v) {
  char buf[32];
  if (v >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  } else if (v >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  } else if (v >= 10) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f", v);
  }
  return buf;
}

double Ratio(const Results& r, const std::string& workload, const std::string& a,
             const std::string& b, const std::string& measure = "rate") {
  auto w = r.find(workload);
  if (w == r.end() || !w->second.count(a) || !w->second.count(b)) return 0;
  const double den = w->second.at(b).at(measure).median();
  return den > 0 ? w->second.at(a).at(measure).median() / den : 0;
}

json::object ToJson(const Results& r) {
  json::object out;
  for (const auto& [workload, systems] : r) {
    json::object w;
    for (const auto& [system, measures] : systems) {
      json::object m;
      for (const auto& [name, f] : measures) {
        json::array all;
        for (double v : f.values) all.push_back(v);
        m[name] = json::object{{"median", f.median()}, {"min", f.min()}, {"max", f.max()}, {"runs", all}};
      }
      w[system] = std::move(m);
    }
    out[workload] = std::move(w);
  }
  return out;
}

void PrintTable(const Results& r, const std::vector<std::string>& order) {
  std::printf("\n%-48s %-11s %26s %9s %9s %7s\n", "workload", "system", "rate: median (min-max)",
              "p50 ms", "p99 ms", "errors");
  for (const auto& workload : order) {
    auto w = r.find(workload);
    if (w == r.end()) continue;
    for (const auto& [system, m] : w->second) {
      const std::string range = Human(m.at("rate").median()) + "/s (" + Human(m.at("rate").min()) +
                                "-" + Human(m.at("rate").max()) + ")";
      std::printf("%-48s %-11s %26s %9.2f %9.2f %7.0f\n", workload.c_str(), system.c_str(),
                  range.c_str(), m.at("p50_ms").median(), m.at("p99_ms").median(),
                  m.at("errors").max());
    }
  }
}

// --- main ---------------------------------------------------------------------------------

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t from = 0;
  for (size_t at; (at = s.find(',', from)) != std::string::npos; from = at + 1) out.push_back(s.substr(from, at - from));
  out.push_back(s.substr(from));
  return out;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--scale") o.scale = std::stod(value());
    else if (flag == "--seconds") o.seconds = std::stod(value());
    else if (flag == "--reps") o.reps = std::stoi(value());
    else if (flag == "--json") o.json_path = value();
    else if (flag == "--dir") o.dir = value();
    else if (flag == "--systems") o.systems = Split(value());
    else if (flag == "--no-sweep") o.sweep = false;
    else if (flag == "--only") o.only = value();
    else if (flag == "--jobstated") o.paths.jobstated = value();
    else if (flag == "--jobctl") o.paths.jobctl = value();
    else throw std::runtime_error("unknown flag " + flag);
  }
  return o;
}

// Stops every system it holds, whatever happens.
struct Fleet {
  std::vector<std::unique_ptr<System>> systems;
  ~Fleet() {
    for (auto& s : systems) s->Stop();
  }
};

// A page of 50 at 90% of a job of 1,000,000 x scale files.
constexpr const char* kDeepPage = "file page at 90% of a big job";

// The job every status read asks for: 250 files, all processed, still running (so
// its status, with its estimate, is computed afresh at every read)...
constexpr const char* kReadJob = "read-target";
// ...and the same job completed (whose status no longer changes).
constexpr const char* kCompletedJob = "read-completed";

void Seed(System& s, uint64_t& id, const std::string& job = kReadJob, bool complete = false) {
  auto c = s.Connect();
  auto events = JobEventsJson(job, 250, id, complete);
  for (size_t i = 0; i < events.size(); i += 100) {
    std::vector<JsonEvent> part(events.begin() + static_cast<std::ptrdiff_t>(i),
                                events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), i + 100)));
    if (!c->Ingest(MakeBatch(std::move(part)))) throw std::runtime_error(s.name() + " refused the seed job");
  }
}

// A file page deep in a big job: Jobstate only (the other designs keep no file rows).
Sample DeepPage(JobstateSystem& js, const Options& o, uint64_t& id) {
  const int files = std::max(1000, static_cast<int>(1'000'000 * o.scale));
  HttpClient api = js.Client();
  auto created = JobEventsJson("huge", 0, id);
  if (api.Post("/v2/events", MakeBatch({created[0]}).body).status != 200) throw std::runtime_error("huge job");
  for (int f = 0; f < files; f += 1000) {
    std::string list;
    for (int k = f; k < std::min(files, f + 1000); ++k) {
      list += std::string(k > f ? "," : "") + "{\"uri\":\"s3://huge/" + std::to_string(k) + "\",\"size_bytes\":1}";
    }
    const std::string body = "{\"events\":[{\"event_id\":\"" + Uuid(++id) +
                             "\",\"job_id\":\"huge\",\"type\":\"files.discovered\",\"occurred_at\":"
                             "\"2026-01-01T00:00:00Z\",\"data\":{\"files\":[" + list + "]}}]}";
    if (api.Post("/v2/events", body).status != 200) throw std::runtime_error("huge job files");
  }
  std::string cursor;
  for (int page = 0; page < files * 9 / 10 / 500; ++page) {
    auto a = api.Get("/v2/jobs/huge/files?limit=500" + (cursor.empty() ? "" : "&cursor=" + cursor));
    auto next = json::parse(a.body).at("files_page").at("next_cursor");
    if (!next.is_string()) break;
    cursor = std::string(next.as_string());
  }
  const std::string deep = "/v2/jobs/huge/files?limit=50&cursor=" + cursor;
  // Through the same driver: one connection reading that page.
  struct PageConnection : Connection {
    HttpClient client;
    std::string target;
    PageConnection(HttpClient c, std::string t) : client(std::move(c)), target(std::move(t)) {}
    bool Ingest(const Batch&) override { return false; }
    bool ReadStatus(const std::string&) override { return client.Get(target).status == 200; }
  };
  return Drive([&] { return std::make_unique<PageConnection>(js.Client(), deep); }, 1, o.seconds,
               [](Connection& c, size_t, size_t) { return c.ReadStatus("") ? 1 : -1; });
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = Parse(argc, argv);
  fs::remove_all(o.dir);
  fs::create_directories(o.dir);
  struct RemoveAtEnd {
    std::string dir;
    ~RemoveAtEnd() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_at_end{o.dir};
  const auto wanted = [&](const std::string& name) {
    return std::find(o.systems.begin(), o.systems.end(), name) != o.systems.end();
  };
  uint64_t id = 0;
  Results results;
  json::object report;
  report["scale"] = o.scale;
  report["seconds"] = o.seconds;
  report["reps"] = o.reps;

  // --- the short workloads, repetitions interleaved -------------------------------------
  {
    Fleet fleet;
    std::unique_ptr<JobstateSystem> jobstate = MakeJobstate(o.paths);
    JobstateSystem* js = jobstate.get();
    fs::create_directories(o.dir + "/jobstate");
    jobstate->Start(o.dir + "/jobstate");
    Seed(*jobstate, id);
    Seed(*jobstate, id, kCompletedJob, true);
    // nginx serves Jobstate's own status body for the same read.
    std::string target = JobstateSystem::kStatusTarget;
    target.replace(target.find("{id}"), 4, kReadJob);
    const std::string body = jobstate->Client().Get(target).body;
    report["status_body_bytes"] = body.size();
    if (wanted("jobstate")) fleet.systems.push_back(std::move(jobstate));
    if (wanted("postgresql")) fleet.systems.push_back(MakePostgres());
    if (wanted("redis")) fleet.systems.push_back(MakeRedis());
    if (wanted("nginx")) fleet.systems.push_back(MakeNginx(body));
    if (wanted("rocksdb")) fleet.systems.push_back(MakeRawRocksDb());
    for (auto& s : fleet.systems) {
      if (s.get() == js) continue;
      fs::create_directories(o.dir + "/" + s->name());
      s->Start(o.dir + "/" + s->name());
      if (s->ingests() && s->serves_status()) {
        Seed(*s, id);
        Seed(*s, id, kCompletedJob, true);
      }
    }
    std::printf("systems up in %s; status body %zu bytes\n", o.dir.c_str(), body.size());

    struct IngestLoad {
      std::string label;
      size_t senders, batch, events;  // events prepared at scale 1 for --seconds 5
    };
    const std::vector<IngestLoad> ingest = {
        {"ingest, batch 1, 1 sender", 1, 1, 20'000},
        {"ingest, batch 100, 8 senders", 8, 100, 1'000'000},
        {"ingest, single events, 64 senders", 64, 1, 300'000}};
    for (int rep = 0; rep < o.reps; ++rep) {
      for (const auto& load : ingest) {
        if (load.label.find(o.only) == std::string::npos) continue;
        for (auto& s : fleet.systems) {
          if (!s->ingests()) continue;
          const size_t events = std::max<size_t>(load.senders * load.batch,
              static_cast<size_t>(static_cast<double>(load.events) * o.seconds / 5));
          auto batches = Batches(s->name() + "-r" + std::to_string(rep) + "-b" + std::to_string(load.batch) +
                                     "x" + std::to_string(load.senders),
                                 load.senders, load.batch, events, 250, id);
          const Sample r = Ingest(*s, batches, o.seconds);
          Record(results, load.label, s->name(), r);
          std::printf("  rep %d  %-48s %-11s %10s events/s  p99 %.2f ms\n", rep + 1, load.label.c_str(),
                      s->name().c_str(), Human(r.rate).c_str(), r.p99_ms);
          std::fflush(stdout);
        }
      }
      struct ReadLoad {
        std::string label;
        size_t connections;
        const char* job;
      };
      const std::vector<ReadLoad> reads = {
          {"status reads, 32 connections", 32, kReadJob},
          {"status reads, 128 connections", 128, kReadJob},
          {"status reads of a completed job, 32 connections", 32, kCompletedJob}};
      for (const auto& [label, connections, job] : reads) {
        if (label.find(o.only) == std::string::npos) continue;
        for (auto& s : fleet.systems) {
          if (!s->serves_status()) continue;
          const Sample r = Reads(*s, connections, o.seconds, job);
          Record(results, label, s->name(), r);
          std::printf("  rep %d  %-48s %-11s %10s req/s     p99 %.2f ms\n", rep + 1, label.c_str(),
                      s->name().c_str(), Human(r.rate).c_str(), r.p99_ms);
          std::fflush(stdout);
        }
      }
    }
    if (wanted("jobstate") && std::string("file page").find(o.only) != std::string::npos) {
      const Sample page = DeepPage(*js, o, id);
      Record(results, kDeepPage, "jobstate", page);
      const int files = std::max(1000, static_cast<int>(1'000'000 * o.scale));
      report["deep_page_job_files"] = files;
      std::printf("  %-41s %-11s %10s req/s     p99 %.2f ms  (a job of %d files)\n", kDeepPage,
                  "jobstate", Human(page.rate).c_str(), page.p99_ms, files);
    }
  }

  // --- the sweep: growth with the log, memory, reading it all back ---------------------
  json::array sweep;
  if (o.sweep) {
    const std::vector<double> sizes = {1e6, 3e6, 10e6};
    for (const std::string name : {"jobstate", "postgresql", "redis", "rocksdb"}) {
      if (!wanted(name)) continue;
      Fleet fleet;
      if (name == "jobstate") fleet.systems.push_back(MakeJobstate(o.paths));
      if (name == "postgresql") fleet.systems.push_back(MakePostgres());
      if (name == "redis") fleet.systems.push_back(MakeRedis());
      if (name == "rocksdb") fleet.systems.push_back(MakeRawRocksDb());
      System& s = *fleet.systems.front();
      fs::create_directories(o.dir + "/sweep-" + name);
      s.Start(o.dir + "/sweep-" + name);
      if (s.serves_status()) Seed(s, id);
      // Peak memory, sampled every 100 ms while the store grows.
      std::atomic<bool> done{false};
      std::atomic<uint64_t> peak{0};
      std::thread sampler([&] {
        while (!done) {
          peak = std::max<uint64_t>(peak, PssBytes(s.processes()));
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      });
      double loaded = 0;
      for (double size : sizes) {
        const double target = size * o.scale;
        double seconds = 0;
        uint64_t events = 0;
        while (loaded < target) {  // in chunks, so the prepared batches stay small
          const size_t chunk = static_cast<size_t>(std::min(500'000.0, target - loaded));
          auto batches = Batches("sweep-" + name + "-" + std::to_string(static_cast<uint64_t>(loaded)), 8,
                                 100, std::max<size_t>(chunk, 800), 24, id);
          const Sample r = Ingest(s, batches, 1e9);
          seconds += r.seconds;
          events += r.units;
          loaded += static_cast<double>(r.units);
          if (r.units == 0) throw std::runtime_error(name + " took nothing");
        }
        json::object point{{"system", name}, {"events", loaded}, {"jobs", loaded / 100},
                           {"ingest_events_per_second", static_cast<double>(events) / seconds}};
        if (s.serves_status()) {
          const Sample r = Reads(s, 32, o.seconds, kReadJob);
          point["reads_per_second"] = r.rate;
          point["read_p99_ms"] = r.p99_ms;
        }
        if (!s.processes().empty()) {
          point["pss_bytes"] = PssBytes(s.processes());
          point["peak_pss_bytes"] = peak.load();
        }
        std::printf("  sweep %-11s %6s events: ingest %s events/s, peak memory %.0f MiB\n", name.c_str(),
                    Human(loaded).c_str(), Human(static_cast<double>(events) / seconds).c_str(),
                    static_cast<double>(peak.load()) / (1 << 20));
        std::fflush(stdout);
        sweep.push_back(std::move(point));
      }
      done = true;
      sampler.join();
      const auto back = s.ReadEverything();
      Sample r;
      r.rate = back.seconds > 0 ? static_cast<double>(back.events) / back.seconds : 0;
      r.units = back.events;
      r.seconds = back.seconds;
      Record(results, "read the whole log back (replay)", name, r);
      std::printf("  replay %-11s %llu events in %.2f s: %s events/s (%s)\n", name.c_str(),
                  static_cast<unsigned long long>(back.events), back.seconds, Human(r.rate).c_str(),
                  back.how.c_str());
    }
  }

  const std::vector<std::string> order = {
      "ingest, batch 1, 1 sender", "ingest, batch 100, 8 senders", "ingest, single events, 64 senders",
      "status reads, 32 connections", "status reads, 128 connections",
      "status reads of a completed job, 32 connections", kDeepPage,
      "read the whole log back (replay)"};
  PrintTable(results, order);

  // The targets, as ratios.
  struct Target {
    std::string what;
    double value, goal;
    bool at_least;
  };
  auto peak_growth = [&]() -> double {
    double first = 0, last = 0;
    for (const auto& p : sweep) {
      const auto& o = p.as_object();
      if (o.at("system").as_string() != "jobstate" || !o.contains("peak_pss_bytes")) continue;
      const double v = o.at("peak_pss_bytes").to_number<double>();
      if (first == 0) first = v;
      last = v;
    }
    return first > 0 ? last / first : 0;
  };
  const std::string b100 = "ingest, batch 100, 8 senders", singles = "ingest, single events, 64 senders",
                    reads = "status reads, 32 connections", replay = "read the whole log back (replay)",
                    completed_reads = "status reads of a completed job, 32 connections";
  const std::vector<Target> targets = {
      {"ingest batch 100: jobstate / postgresql", Ratio(results, b100, "jobstate", "postgresql"), 2.5, true},
      {"ingest batch 100: jobstate / redis", Ratio(results, b100, "jobstate", "redis"), 2.0, true},
      {"64 single-event senders: jobstate / postgresql", Ratio(results, singles, "jobstate", "postgresql"), 4.0, true},
      {"status reads x32: jobstate / nginx", Ratio(results, reads, "jobstate", "nginx"), 0.7, true},
      {"status reads x32, completed job: jobstate / nginx",
       Ratio(results, completed_reads, "jobstate", "nginx"), 0.7, true},
      {"status reads x32: jobstate p99 ms",
       results[reads].count("jobstate") ? results[reads]["jobstate"]["p99_ms"].median() : 0, 5.0, false},
      {"ingest batch 100: jobstate / raw rocksdb", Ratio(results, b100, "jobstate", "rocksdb"), 0.65, true},
      {"replay: jobstate events/s",
       results[replay].count("jobstate") ? results[replay]["jobstate"]["rate"].median() : 0, 1e6, true},
      {"peak memory, largest / smallest size", peak_growth(), 1.2, false}};
  std::printf("\n%-50s %10s %10s  %s\n", "target", "measured", "goal", "");
  json::array target_json;
  for (const auto& t : targets) {
    if (t.value == 0) continue;  // a system was left out
    const bool met = t.at_least ? t.value >= t.goal : t.value <= t.goal;
    std::printf("%-50s %10.2f %10s  %s\n", t.what.c_str(), t.value,
                ((t.at_least ? ">= " : "<= ") + Human(t.goal)).c_str(), met ? "met" : "NOT met");
    target_json.push_back({{"what", t.what}, {"measured", t.value}, {"goal", t.goal}, {"met", met}});
  }
  report["results"] = ToJson(results);
  report["sweep"] = std::move(sweep);
  report["targets"] = std::move(target_json);
  fs::create_directories(fs::path(o.json_path).parent_path().empty() ? "." : fs::path(o.json_path).parent_path());
  std::ofstream(o.json_path) << json::serialize(report) << "\n";
  std::printf("\nwritten: %s\n", o.json_path.c_str());
  // A refused request is a failure of the run, not a figure.
  double failed = 0;
  for (const auto& [workload, systems] : results) {
    for (const auto& [system, m] : systems) {
      for (double e : m.at("errors").values) failed += e;
    }
  }
  if (failed > 0) {
    std::fprintf(stderr, "compare: %.0f requests were refused (see above)\n", failed);
    return 1;
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "compare: %s\n", e.what());
  return 1;
}
