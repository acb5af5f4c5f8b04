// A coverage-guided fuzzer (libFuzzer) of the write path's pure half: a request body,
// as POST /v2/events receives it, through the parser, the event checks and the fold,
// then every job it touched read back as the status route renders it.
//
//   fuzz/run [SECONDS]     (builds with clang under ASan and UBSan, then fuzzes)
//
// The input is a body: `{"events": [...]}` when it starts with '{' and is not one event
// per line, else NDJSON. Events are folded in order into jobs held in memory, as the
// commit group does: an event the fold refuses leaves its job exactly as it was. After
// each event the harness checks what a reader relies on, whatever the input:
//   - the event's record and the job's snapshot decode to what was encoded;
//   - the file counts are never negative and sum to files_total;
//   - percent never decreases and stays within 0..100.0;
//   - the status view serializes to JSON that parses back, and its durations, rates
//     and percent are finite and within range (a worker's clock may be anything);
//   - the ETA, where there is one, is finite and not negative, with low <= high.
// Completed jobs teach an ETA prior (EtaHistory::Learn) that later reads weigh, as
// storage's derived history does. A violated invariant aborts, so libFuzzer keeps the
// input that did it. With JOBSTATE_FUZZ_VERBOSE set, each event's fate is printed: run
// the target on one file to see how far an input gets.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>

#include "api/json_events.h"
#include "api/json_views.h"
#include "api/json_write.h"
#include "engine/eta.h"
#include "engine/file_table.h"
#include "engine/projector.h"
#include "engine/state.h"
#include "engine/status_view.h"
#include "engine/validate.h"
#include "storage/codec.h"

namespace {

using namespace jobstate;

[[noreturn]] void Fail(const char* what, const std::string& job) {
  std::fprintf(stderr, "invariant broken: %s (job %s)\n", what, job.c_str());
  std::abort();
}

struct Job {
  engine::JobSnapshot snap;
  engine::MemoryFileTable files;
};

void CheckCounts(const engine::JobSnapshot& s) {
  int64_t sum = 0;
  for (int64_t c : s.file_counts) {
    if (c < 0) Fail("a negative file count", s.job_id);
    sum += c;
  }
  if (sum != s.files_total()) Fail("file counts do not sum to files_total", s.job_id);
  if (s.percent_tenths < 0 || s.percent_tenths > 1000)
    Fail("percent out of range", s.job_id);
}

// What storage writes reads back as the same value: the event's record (and its content
// hash read from the record agrees with the hash of the event), and the job's snapshot
// as the fold left it. A member a codec forgets shows here on the first state that
// sets it.
void CheckRecords(const engine::RecordedEvent& re, const engine::JobSnapshot& s) {
  const storage::EncodedEvent encoded =
      storage::EncodeEventAndHash(re.event, re.version, re.position, re.recorded_at);
  auto event = storage::DecodeEvent(encoded.record, "event");
  if (!event || !(*event == re)) Fail("an event does not read back as written", s.job_id);
  if (storage::ContentHashOfRecord(encoded.record, *event) != encoded.content_hash ||
      storage::ContentHash(re.event) != encoded.content_hash) {
    Fail("content hashes of one event disagree", s.job_id);
  }
  auto snap = storage::DecodeSnapshot(storage::EncodeSnapshot(s), "snapshot");
  if (!snap || !(*snap == s)) Fail("a snapshot does not read back as written", s.job_id);
}

void CheckRead(const engine::JobSnapshot& s, engine::Millis now,
               const engine::EtaHistory* prior) {
  const engine::JobStatusView view = engine::BuildStatusView(s, now, {}, prior);
  std::string out;
  api::JsonWriter w(out);
  w.BeginObject();
  api::WriteStatusMembers(w, view);
  w.EndObject();
  const engine::ProgressView& p = view.progress;
  if (p.percent < 0 || p.percent > 100)
    Fail("percent out of range in the view", s.job_id);
  if (p.elapsed_seconds && *p.elapsed_seconds < 0)
    Fail("negative elapsed_seconds", s.job_id);
  if (p.files_per_second &&
      !(std::isfinite(*p.files_per_second) && *p.files_per_second >= 0)) {
    Fail("files_per_second not finite or negative", s.job_id);
  }
  if (view.estimated_time_remaining_seconds &&
      *view.estimated_time_remaining_seconds < 0) {
    Fail("negative estimated_time_remaining_seconds", s.job_id);
  }
  if (p.eta_low_seconds &&
      (*p.eta_low_seconds < 0 || *p.eta_low_seconds > *p.eta_high_seconds)) {
    Fail("eta_low_seconds negative or above eta_high_seconds", s.job_id);
  }
  if (view.result && view.result->duration_seconds &&
      *view.result->duration_seconds < 0) {
    Fail("negative result.duration_seconds", s.job_id);
  }
  boost::system::error_code ec;
  (void)boost::json::parse(out, ec);
  if (ec) Fail("the status view is not JSON", s.job_id);
  if (const auto eta = engine::EtaRangeAt(s, now, {}, prior)) {
    if (!std::isfinite(eta->seconds) || eta->seconds < 0) {
      std::fprintf(stderr, "ETA %g s [%g, %g] at %lld\n", eta->seconds, eta->low_seconds,
                   eta->high_seconds, static_cast<long long>(now));
      Fail("ETA not finite or negative", s.job_id);
    }
    if (!(eta->low_seconds <= eta->high_seconds))
      Fail("ETA interval upside down", s.job_id);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const api::BatchLimits limits{200, 32};
  const bool ndjson =
      body.empty() || body.front() != '{' || body.find("\n{") != body.npos;
  auto events =
      ndjson ? api::ParseNdjsonBatch(body, limits) : api::ParseJsonBatch(body, limits);
  static const bool verbose = std::getenv("JOBSTATE_FUZZ_VERBOSE") != nullptr;
  if (!events) {
    if (verbose)
      std::fprintf(stderr, "body refused: %s\n", events.error().ToString().c_str());
    return 0;
  }

  std::map<std::string, Job> jobs;
  engine::EtaHistory prior;
  uint64_t position = 0;
  for (engine::Event& e : *events) {
    if (Status s = engine::ValidateEvent(e); !s.ok()) {
      if (verbose) std::fprintf(stderr, "invalid: %s\n", s.ToString().c_str());
      continue;
    }
    auto it = jobs.find(e.job_id);
    if (it == jobs.end()) {
      if (e.type() != engine::EventType::kJobCreated) continue;
      it = jobs.emplace(e.job_id, Job{}).first;
      it->second.snap.org = "fuzz";
      it->second.snap.job_id = e.job_id;
    }
    Job& job = it->second;
    const engine::Millis at = e.occurred_at;
    const int32_t percent = job.snap.percent_tenths;
    const engine::JobStatus status = job.snap.status;
    Job next = job;  // the fold refuses as a whole: the job stays as it was
    engine::RecordedEvent re{e, next.snap.version + 1, ++position, at};
    if (Status s = engine::Apply(next.snap, next.files, re); !s.ok()) {
      if (verbose) std::fprintf(stderr, "refused: %s\n", s.ToString().c_str());
      if (job.snap.version == 0) jobs.erase(it);
      continue;
    }
    job = std::move(next);
    CheckRecords(re, job.snap);
    if (verbose) {
      std::fprintf(stderr, "folded %s v%llu: %s\n", job.snap.job_id.c_str(),
                   static_cast<unsigned long long>(job.snap.version),
                   std::string(engine::Name(job.snap.status)).c_str());
    }
    CheckCounts(job.snap);
    if (job.snap.percent_tenths < percent) Fail("percent went down", job.snap.job_id);
    if (status != job.snap.status) {
      if (auto lesson = engine::EtaLearnedFrom(job.snap)) prior.Learn(std::move(*lesson));
    }
    // Read at the event, and later, as a poller between events does.
    for (engine::Millis later :
         {engine::Millis{0}, engine::Millis{1'500}, engine::Millis{3'600'000}}) {
      CheckRead(job.snap, at + later,
                prior.jobs > 0 || !prior.types.empty() ? &prior : nullptr);
    }
  }
  return 0;
}
