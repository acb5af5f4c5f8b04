// Replay rate (issue #6): `jobctl replay`'s engine on a log of N events, against the
// raw RocksDB scan rate of the same log (every log entry and every event record read
// in key order), measured in the same run:
//
//   replay_bench [--scale X] [--files F] [--dir DIR] [--keep 1]
//
// N = 5,000,000 x scale events, in jobs of F files (250 by default; bench/compare's
// jobs have 24 files, about 100 events, so --files 24 replays its shape).
//
// --keep 1 leaves the data dir in place and reuses one that is there, so that a
// profiler can watch the replay alone on a second run.
//
// The log is built first through the normal commit path (batches of 1,000, buffered
// durability to save time; durability does not change what is stored).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <rocksdb/db.h>

#include "bench/bench_support.h"
#include "engine/clock.h"
#include "storage/internal/db.h"
#include "storage/maintenance.h"
#include "storage/store.h"

namespace {

using namespace jobstate;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace

int main(int argc, char** argv) {
  double scale = 1.0;
  int files = 250;
  bool keep = false;
  std::string dir = (std::filesystem::temp_directory_path() / "jobstate-replay-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--scale") scale = std::stod(argv[i + 1]);
    if (flag == "--files") files = std::stoi(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--keep") keep = std::string(argv[i + 1]) != "0";
  }
  const size_t target = static_cast<size_t>(5'000'000 * scale);
  const bool reuse = keep && std::filesystem::exists(dir);
  if (!reuse) std::filesystem::remove_all(dir);
  if (!reuse) {
    engine::SystemClock clock;
    storage::StoreOptions options;
    options.path = dir;
    options.sequencer.durability = storage::Durability::kBuffered;
    auto store = storage::Store::Open(options, clock);
    if (!store) {
      std::fprintf(stderr, "open: %s\n", store.error().ToString().c_str());
      return 1;
    }
    const auto start = Clock::now();
    uint64_t id = 0;
    size_t events = 0;
    for (int j = 0; events < target; ++j) {
      auto job = bench::JobEvents("job-" + std::to_string(j), files, id, clock.NowMillis() - 3'600'000);
      for (size_t i = 0; i < job.size() && events < target; i += 1000) {
        const size_t n = std::min({job.size() - i, size_t{1000}, target - events});
        std::vector<engine::Event> batch(job.begin() + static_cast<std::ptrdiff_t>(i),
                                         job.begin() + static_cast<std::ptrdiff_t>(i + n));
        auto r = (*store)->Append({"bench", "bench", std::move(batch), {}});
        if (!r) {
          std::fprintf(stderr, "append: %s\n", r.error().ToString().c_str());
          return 1;
        }
        events += n;
      }
    }
    std::printf("built a log of %zu events in %.1f s\n", events, Seconds(start));
  }

  // The raw ceiling: read every log entry and every event record, in key order.
  double raw_rate = 0;
  {
    auto db = storage::Db::Open({dir});
    if (!db) return 1;
    const auto start = Clock::now();
    size_t entries = 0, bytes = 0;
    for (storage::Cf cf : {storage::Cf::kLog, storage::Cf::kEvents}) {
      std::unique_ptr<rocksdb::Iterator> it((*db)->get()->NewIterator({}, (*db)->cf(cf)));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        bytes += it->key().size() + it->value().size();
        entries += cf == storage::Cf::kEvents;
      }
    }
    const double s = Seconds(start);
    raw_rate = static_cast<double>(entries) / s;
    std::printf("raw scan of log + events: %zu events, %.1f MiB in %.2f s: %.0f events/s\n",
                entries, static_cast<double>(bytes) / (1 << 20), s, raw_rate);
  }
  storage::ReplayOptions options;
  auto stats = storage::Replay(dir, options);
  if (!stats) {
    std::fprintf(stderr, "replay: %s\n", stats.error().ToString().c_str());
    return 1;
  }
  const double rate = static_cast<double>(stats->events) / stats->seconds;
  std::printf("replay: %llu events of %llu jobs in %.2f s: %.0f events/s (target 1,000,000)\n",
              static_cast<unsigned long long>(stats->events),
              static_cast<unsigned long long>(stats->jobs), stats->seconds, rate);
  std::printf("replay / raw scan: %.3f\n", rate / raw_rate);
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
