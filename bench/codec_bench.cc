// The cost of an event's record, the codec every append, read and replay goes through
// (Google Benchmark; its flags apply):
//
//   codec_bench [--benchmark_repetitions=5]
//
// EncodeEvent encodes the events of a realistic job of 250 files (bench_support.h) as
// the commit path does (the record and the content hash from one encoding);
// DecodeEvent decodes those records as reads and replay do; Encode/DecodeSnapshot do
// the same for the job's snapshot halfway through (a commit group encodes one per job
// it changed, so a group of single events from many jobs encodes one per event);
// ParseJsonBatch parses the same job as a worker posts it, in bodies of 100 events,
// as POST /v2/events does on the HTTP threads. On a shared VM the time moves with the
// neighbours; for a figure that does not, count instructions:
//
//   valgrind --tool=callgrind ./build/bench/codec_bench --benchmark_min_time=0.05
#include <span>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "api/json_events.h"
#include "bench/bench_support.h"
#include "engine/file_table.h"
#include "engine/projector.h"
#include "storage/codec.h"

namespace {

using namespace jobstate;

constexpr engine::Millis kAt = 1'700'000'000'000;

const std::vector<engine::Event>& Events() {
  static const std::vector<engine::Event> events = [] {
    uint64_t id = 0;
    return bench::JobEvents("job-1", 250, id, kAt);
  }();
  return events;
}

void EncodeEvent(benchmark::State& state) {
  const auto& events = Events();
  size_t bytes = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < events.size(); ++i) {
      auto encoded = storage::EncodeEventAndHash(events[i], i + 1, i + 1, kAt);
      benchmark::DoNotOptimize(encoded.content_hash);
      bytes += encoded.record.size();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(EncodeEvent);

void DecodeEvent(benchmark::State& state) {
  const auto& events = Events();
  std::vector<std::string> records;
  for (size_t i = 0; i < events.size(); ++i) {
    records.push_back(storage::EncodeEventAndHash(events[i], i + 1, i + 1, kAt).record);
  }
  for (auto _ : state) {
    for (const std::string& record : records) {
      auto decoded = storage::DecodeEvent(record, "events");
      if (!decoded.has_value()) {
        state.SkipWithError("a record did not decode");
        return;
      }
      benchmark::DoNotOptimize(decoded->position);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
}
BENCHMARK(DecodeEvent);

// The snapshot of the job above, folded halfway (its files in every state), encoded
// and decoded as a commit group's seal and a status read do.
engine::JobSnapshot HalfwaySnapshot() {
  const auto& events = Events();
  engine::JobSnapshot job;
  job.org = "default";
  job.job_id = "job-1";
  engine::MemoryFileTable files;
  for (size_t i = 0; i < events.size() / 2; ++i) {
    const engine::RecordedEvent e{events[i], i + 1, i + 1, kAt + int64_t(i)};
    if (!engine::Apply(job, files, e).ok()) std::abort();
  }
  return job;
}

void EncodeSnapshot(benchmark::State& state) {
  const engine::JobSnapshot job = HalfwaySnapshot();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string record = storage::EncodeSnapshot(job);
    bytes += record.size();
    benchmark::DoNotOptimize(record.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(EncodeSnapshot);

void DecodeSnapshot(benchmark::State& state) {
  const std::string record = storage::EncodeSnapshot(HalfwaySnapshot());
  for (auto _ : state) {
    auto job = storage::DecodeSnapshot(record, "snapshots");
    benchmark::DoNotOptimize(job->version);
  }
}
BENCHMARK(DecodeSnapshot);

void ParseJsonBatch(benchmark::State& state) {
  uint64_t id = 0;
  const auto events = bench::JobEventsJson("job-1", 250, id);
  std::vector<std::string> bodies;
  for (size_t i = 0; i < events.size(); i += 100) {
    bodies.push_back(bench::EventsBody(
        std::span(events).subspan(i, std::min<size_t>(100, events.size() - i))));
  }
  const api::BatchLimits limits;
  for (auto _ : state) {
    for (const std::string& body : bodies) {
      auto parsed = api::ParseJsonBatch(body, limits);
      if (!parsed.has_value()) {
        state.SkipWithError("a body did not parse");
        return;
      }
      benchmark::DoNotOptimize(parsed->data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
}
BENCHMARK(ParseJsonBatch);

}  // namespace

BENCHMARK_MAIN();
