// jobctl: the operator's tool (OPERATIONS.md). Every command works on the data dir named
// by --data-dir. Those that write it (replay, import, backup) need the server stopped
// (the message says so); those that only read it (status, events, export, verify, space)
// also run beside a running server, on the data dir as it stood when they started.
//
// Exit codes: 0 done; 1 the operation failed, or verify found differences; 2 bad usage;
// 3 a command that writes found the data dir in use by a running server (or another
// jobctl); 130 interrupted.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "api/auth.h"
#include "api/json_events.h"
#include "api/json_views.h"
#include "api/json_write.h"
#include "api/time_format.h"
#include "engine/clock.h"
#include "engine/status_view.h"
#include "storage/maintenance.h"
#include "storage/store.h"

namespace {

using namespace jobstate;
namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int kFailed = 1, kInUse = 3, kInterrupted = 130;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

int Fail(const Status& s) {
  std::fprintf(stderr, "jobctl: %s\n", s.message().c_str());
  return kFailed;
}

// Whether an open failed because another process (a server, a jobctl) holds the dir.
bool InUse(const Status& s) {
  return s.code() == StatusCode::kUnavailable &&
         s.message().find("lock") != std::string::npos;
}

// Opens the store, or explains why not (in use, missing, unfinished replay). A command
// that only reads (`reads_only`) opens a data dir that a running server holds beside
// it, read-only, and says so on stderr.
Result<std::unique_ptr<storage::Store>> OpenStore(const std::string& dir, bool create,
                                                  const engine::Clock& clock,
                                                  bool reads_only = false) {
  if (!create && !fs::exists(fs::path(dir) / "CURRENT")) {
    return Err(Status::NotFound("no_data_dir", dir + " holds no Jobstate data dir"));
  }
  storage::StoreOptions options;
  options.path = dir;
  options.create_if_missing = create;
  auto store = storage::Store::Open(options, clock);
  if (!store.has_value() && reads_only && InUse(store.error())) {
    options.read_only = true;
    store = storage::Store::Open(options, clock);
    if (store.has_value()) {
      std::fprintf(stderr,
                   "jobctl: a server holds %s; reading it beside the server, as it was "
                   "at this moment\n",
                   dir.c_str());
    }
  }
  if (store.has_value()) {
    if (const auto& up = (*store)->upgrade()) {
      std::fprintf(stderr, "jobctl: upgraded %s from %s to %s (%llu jobs, %.3f s)\n",
                   dir.c_str(), up->from.c_str(), up->to.c_str(),
                   static_cast<unsigned long long>(up->jobs), up->seconds);
    }
  }
  return store;
}

int OpenFailure(const Status& s, const std::string& dir) {
  if (InUse(s)) {
    std::fprintf(
        stderr,
        "jobctl: the data dir %s is in use (is jobstated running?). This command "
        "writes it, so it needs it to itself: stop the server first (to back up "
        "while it runs, use POST /v2/admin/backup).\n",
        dir.c_str());
    return kInUse;
  }
  return Fail(s);
}

bool Interactive() { return isatty(STDERR_FILENO) == 1; }

// A progress line: redrawn in place on a terminal, one plain line at a time otherwise.
class Progress {
 public:
  explicit Progress(std::string what) : what_(std::move(what)), start_(Clock::now()) {}
  void Show(uint64_t done, uint64_t total, const char* unit) {
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1;
    const double eta = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0;
    if (Interactive()) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(frac * kWidth);
      std::fprintf(stderr, "\r%s [%.*s%*s] %5.1f%% %llu/%llu %s, %.0f/s, ETA %.0f s  ",
                   what_.c_str(), filled, "##############################", kWidth - filled, "",
                   100 * frac, static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total), unit, rate, eta);
    } else {
      std::fprintf(stderr, "%s: %llu/%llu %s (%.1f%%), %.0f/s, ETA %.0f s\n", what_.c_str(),
                   static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                   unit, 100 * frac, rate, eta);
    }
  }
  void Done() {
    if (Interactive()) std::fprintf(stderr, "\n");
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::string what_;
  Clock::time_point start_;
};

// Progress for Prometheus while the server is down: a text-format file, as
// node_exporter's textfile collector reads, rewritten whole (written beside, then
// renamed) so that a reader never sees half of it. No path, no file.
class ProgressMetrics {
 public:
  // Gauges jobstate_<operation>_<unit>_done, _<unit>, _running, _start_time_seconds.
  ProgressMetrics(std::string path, const std::string& operation, const std::string& unit)
      : path_(std::move(path)) {
    namespace p = prometheus;
    auto gauge = [&](const std::string& name, const std::string& help) {
      return &p::BuildGauge().Name("jobstate_" + operation + "_" + name).Help(help)
                  .Register(registry_).Add({});
    };
    done_ = gauge(unit + "_done", "The " + unit + " `jobctl " + operation + "` has finished");
    total_ = gauge(unit, "The " + unit + " `jobctl " + operation + "` goes through");
    running_ = gauge("running", "1 while `jobctl " + operation + "` runs, 0 once it has ended");
    start_ = gauge("start_time_seconds", "When `jobctl " + operation + "` started (Unix time)");
    start_->SetToCurrentTime();
  }
  prometheus::Registry& registry() { return registry_; }

  // Rewrites the file; false (after saying why) if it cannot.
  bool Update(uint64_t done, uint64_t total, bool running) {
    if (path_.empty()) return true;
    done_->Set(static_cast<double>(done));
    total_->Set(static_cast<double>(total));
    running_->Set(running ? 1 : 0);
    const std::string tmp = path_ + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << prometheus::TextSerializer().Serialize(registry_.Collect());
      if (!out.flush()) return Warn(tmp);
    }
    std::error_code ec;
    fs::rename(tmp, path_, ec);
    return ec ? Warn(path_) : true;
  }

 private:
  bool Warn(const std::string& what) {
    if (!warned_) std::fprintf(stderr, "jobctl: cannot write the metrics file %s\n", what.c_str());
    warned_ = true;
    return false;
  }

  std::string path_;
  prometheus::Registry registry_;
  prometheus::Gauge *done_, *total_, *running_, *start_;
  bool warned_ = false;
};

// --- commands -------------------------------------------------------------------------

int Replay(const std::string& dir, const std::string& metrics_file) {
  Progress bar("replay");
  ProgressMetrics metrics(metrics_file, "replay", "events");
  storage::ReplayOptions options;
  options.stop = &g_stop;
  uint64_t done = 0, total = 0;
  options.progress = [&](const storage::ReplayProgress& p) {
    metrics.Update(p.events_done, p.events_total, true);  // first: the line says it is there
    bar.Show(p.events_done, p.events_total, "events");
    done = p.events_done;
    total = p.events_total;
  };
  metrics.Update(0, 0, true);
  auto stats = storage::Replay(dir, options);
  bar.Done();
  metrics.Update(done, total, false);
  if (!stats) {
    if (stats.error().code() == StatusCode::kAborted) {
      std::fprintf(stderr, "jobctl: replay interrupted; the data dir stays marked until "
                           "`jobctl replay` runs to the end\n");
      return kInterrupted;
    }
    return OpenFailure(stats.error(), dir);
  }
  std::printf("replayed %llu events of %llu jobs in %.2f s (%.0f events/s)\n",
              static_cast<unsigned long long>(stats->events),
              static_cast<unsigned long long>(stats->jobs), stats->seconds,
              stats->seconds > 0 ? static_cast<double>(stats->events) / stats->seconds : 0);
  return 0;
}

int Verify(const std::string& dir, const std::string& org, const std::string& job,
           const std::string& metrics_file, unsigned threads) {
  engine::SystemClock clock;
  auto store = OpenStore(dir, false, clock, true);
  if (!store) return OpenFailure(store.error(), dir);
  Progress bar("verify");
  ProgressMetrics metrics(metrics_file, "verify", "jobs");
  prometheus::Gauge& differences = prometheus::BuildGauge()
      .Name("jobstate_verify_differences")
      .Help("Differences `jobctl verify` found (complete once running is 0)")
      .Register(metrics.registry()).Add({});
  storage::VerifyOptions options;
  if (!job.empty()) options.job = std::make_pair(org, job);
  options.stop = &g_stop;
  // 0: one per core when the server is stopped; one beside a running server, which
  // shares the machine (as the admin route's verify does).
  options.threads = threads == 0 && (*store)->read_only() ? 1 : threads;
  uint64_t done = 0, total = 0;
  options.progress = [&](uint64_t d, uint64_t t) {
    done = d;
    total = t;
    if (d % 1000 == 0 || d == t) {
      metrics.Update(d, t, true);
      bar.Show(d, t, "jobs");
    }
  };
  metrics.Update(0, 0, true);
  auto report = (*store)->Verify(options);
  bar.Done();
  if (report) differences.Set(static_cast<double>(report->differences.size()));
  metrics.Update(done, total, false);
  if (!report) return report.error().code() == StatusCode::kAborted ? kInterrupted : Fail(report.error());
  for (const auto& d : report->differences) {
    std::printf("DIFFERS %s/%s: %s\n", d.org.c_str(), d.job_id.c_str(), d.what.c_str());
  }
  std::printf("verified %llu jobs, %llu events: %zu differences\n",
              static_cast<unsigned long long>(report->jobs),
              static_cast<unsigned long long>(report->events), report->differences.size());
  return report->differences.empty() ? 0 : kFailed;
}

// One export line: the event as history returns it, plus its organisation.
std::string ExportLine(const std::string& org, const engine::RecordedEvent& e) {
  std::string text;
  api::JsonWriter w(text);
  api::WriteRecordedEvent(w, e);
  std::string org_member;
  api::JsonWriter m(org_member);
  m.String(org);
  text.insert(1, "\"org\":" + org_member + ",");
  return text;
}

int Export(const std::string& dir, const std::string& org, const std::string& job,
           uint64_t from_position) {
  engine::SystemClock clock;
  auto store = OpenStore(dir, false, clock, true);
  if (!store) return OpenFailure(store.error(), dir);
  std::string out;
  uint64_t lines = 0;
  auto flush = [&] {
    std::fwrite(out.data(), 1, out.size(), stdout);
    out.clear();
  };
  if (!job.empty()) {
    for (uint64_t from = 1;;) {
      auto events = (*store)->ReadJobEvents(org, job, from, 10'000);
      if (!events) return Fail(events.error());
      for (const auto& e : *events) {
        if (e.position <= from_position) continue;
        out += ExportLine(org, e) + "\n";
        ++lines;
      }
      flush();
      if (events->size() < 10'000) break;
      from = events->back().version + 1;
    }
  } else {
    for (uint64_t after = from_position;;) {
      auto entries = (*store)->ReadLog(after, 10'000);
      if (!entries) return Fail(entries.error());
      for (const auto& entry : *entries) out += ExportLine(entry.org, entry.record) + "\n";
      lines += entries->size();
      flush();
      if (entries->size() < 10'000) break;
      after = entries->back().record.position;
    }
  }
  std::fflush(stdout);
  std::fprintf(stderr, "exported %llu events\n", static_cast<unsigned long long>(lines));
  return 0;
}

int Import(const std::string& dir, const std::string& file, const std::string& default_org) {
  std::ifstream in(file);
  if (!in) return Fail(Status::NotFound("no_file", "cannot read " + file));
  engine::SystemClock clock;
  auto store = OpenStore(dir, true, clock);
  if (!store) return OpenFailure(store.error(), dir);
  engine::AppendRequest batch;
  uint64_t appended = 0, duplicates = 0, line_no = 0, batch_first_line = 0;
  auto commit = [&]() -> Status {
    if (batch.events.empty()) return Status::OK();
    auto r = (*store)->Append(std::move(batch));
    batch = engine::AppendRequest{};
    if (!r) {
      Status s = r.error();
      const int64_t index = s.details().event_index.value_or(0);
      return Status::InvalidArgument(
          s.details().reason, "line " + std::to_string(batch_first_line + static_cast<uint64_t>(index)) +
                                  ": " + s.message());
    }
    appended += static_cast<uint64_t>(r->appended);
    duplicates += static_cast<uint64_t>(r->duplicates);
    return Status::OK();
  };
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto bad = [&](const std::string& what) {
      return Fail(Status::InvalidArgument("invalid_line", "line " + std::to_string(line_no) + ": " + what));
    };
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return bad("not a JSON object");
    json::object& o = v.as_object();
    std::string org = default_org;
    if (const json::value* given = o.if_contains("org")) {
      if (!given->is_string()) return bad("org must be a string");
      org = std::string(given->as_string());
    }
    if (org.empty()) return bad("no org (give it on the line or with --org)");
    engine::AppendRequest::Imported coords;
    const json::value* recorded = o.if_contains("recorded_at");
    auto at = recorded && recorded->is_string() ? api::ParseInstant(recorded->as_string()) : std::nullopt;
    if (!at) return bad("recorded_at is required (an RFC 3339 instant)");
    coords.recorded_at = *at;
    if (const json::value* version = o.if_contains("version")) {
      if (!version->is_uint64() && !(version->is_int64() && version->as_int64() > 0)) {
        return bad("version must be a positive integer");
      }
      coords.version = version->to_number<uint64_t>();
    }
    for (const char* member : {"org", "recorded_at", "version", "position"}) o.erase(member);
    auto event = api::ParseEvent(v, "");
    if (!event) return bad(event.error().message() + " (at " + event.error().details().pointer + ")");
    if (!batch.events.empty() && (batch.org != org || batch.events.size() == 1000)) {
      Status s = commit();
      if (!s.ok()) return Fail(s);
    }
    if (batch.events.empty()) {
      batch.org = org;
      batch.actor = "jobctl-import";
      batch_first_line = line_no;
    }
    batch.events.push_back(std::move(*event));
    batch.imported.push_back(coords);
  }
  Status s = commit();
  if (!s.ok()) return Fail(s);
  std::printf("imported %llu events, %llu already stored\n",
              static_cast<unsigned long long>(appended), static_cast<unsigned long long>(duplicates));
  return 0;
}

int ShowStatus(const std::string& dir, const std::string& org, const std::string& job,
               const std::string& as_of, int64_t as_of_version, size_t files_limit) {
  engine::SystemClock clock;
  auto store = OpenStore(dir, false, clock, true);
  if (!store) return OpenFailure(store.error(), dir);
  engine::FileQuery query;
  query.limit = files_limit;
  engine::FilePage page;
  engine::Millis at = clock.NowMillis();
  if (!as_of.empty() || as_of_version >= 0) {
    engine::AsOf when;
    if (!as_of.empty()) {
      when.instant = api::ParseInstant(as_of);
      if (!when.instant) return Fail(Status::InvalidArgument("invalid_instant", "--as-of is not an RFC 3339 instant"));
    } else {
      when.version = static_cast<uint64_t>(as_of_version);
    }
    auto read = (*store)->ReadAsOf(org, job, when, query);
    if (!read) return Fail(read.error());
    page = std::move(read->page);
    at = read->at;
  } else {
    auto read = (*store)->ListFiles(org, job, query);
    if (!read) return Fail(read.error());
    page = std::move(*read);
  }
  std::string text;
  api::JsonWriter w(text);
  w.BeginObject();
  const bool historical = !as_of.empty() || as_of_version >= 0;
  auto view = engine::ReadStatusView(**store, page.job, at, historical, {});
  if (!view) return Fail(view.error());
  api::WriteStatusMembers(w, *view);
  api::WriteFilesPageMembers(w, page, files_limit, std::nullopt, "");
  w.EndObject();
  std::printf("%s\n", text.c_str());
  return 0;
}

int Events(const std::string& dir, const std::string& org, const std::string& job, uint64_t from) {
  engine::SystemClock clock;
  auto store = OpenStore(dir, false, clock, true);
  if (!store) return OpenFailure(store.error(), dir);
  for (;;) {
    auto events = (*store)->ReadJobEvents(org, job, from, 10'000);
    if (!events) return Fail(events.error());
    std::string out;
    for (const auto& e : *events) {
      api::JsonWriter w(out);
      api::WriteRecordedEvent(w, e);
      out += "\n";
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (events->size() < 10'000) break;
    from = events->back().version + 1;
  }
  return 0;
}

int Backup(const std::string& dir, const std::string& target) {
  engine::SystemClock clock;
  auto store = OpenStore(dir, false, clock);
  if (!store) return OpenFailure(store.error(), dir);
  Status s = (*store)->Backup(target);
  if (!s.ok()) return Fail(s);
  std::printf("backed up %s into %s (checksums verified)\n", dir.c_str(), target.c_str());
  return 0;
}

// Where the data dir's bytes are: each column family's live tables, memtables and
// estimated keys, marked truth (the log) or derived (what `jobctl replay` rebuilds),
// then the write-ahead log. The first thing to read when the disk fills.
int Space(const std::string& dir) {
  engine::SystemClock clock;
  auto store = OpenStore(dir, false, clock, true);
  if (!store) return OpenFailure(store.error(), dir);
  const engine::StoreStats stats = (*store)->GetStats();
  std::printf("%-20s %-8s %15s %15s %13s\n", "family", "kind", "sst_bytes",
              "memtable_bytes", "keys_estimate");
  uint64_t truth = 0, derived = 0;
  for (const engine::FamilyStats& f : stats.families) {
    std::printf("%-20s %-8s %15llu %15llu %13llu\n", f.name.c_str(),
                f.derived ? "derived" : "truth",
                static_cast<unsigned long long>(f.live_sst_bytes),
                static_cast<unsigned long long>(f.memtable_bytes),
                static_cast<unsigned long long>(f.estimated_keys));
    (f.derived ? derived : truth) += f.live_sst_bytes + f.memtable_bytes;
  }
  std::printf("%-20s %-8s %15llu\n", "write-ahead log", "truth",
              static_cast<unsigned long long>(stats.wal_bytes));
  std::printf(
      "truth %llu bytes and the write-ahead log; derived %llu bytes, which `jobctl "
      "replay` rebuilds from the truth\n",
      static_cast<unsigned long long>(truth), static_cast<unsigned long long>(derived));
  return 0;
}

int Restore(const std::string& dir, const std::string& source) {
  Status s = storage::Restore(source, dir);
  if (!s.ok()) return Fail(s);
  std::printf("restored %s from %s; run `jobctl verify` to check it\n", dir.c_str(), source.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"jobctl: the Jobstate operator's tool"};
  app.footer(
      "status, events, export, verify and space also run beside a running server, on the "
      "data dir as it stood when they started; replay, import and backup need it stopped "
      "(exit 3 otherwise).");
  app.require_subcommand(1);
  std::string dir = "./jobstate-data";
  app.add_option("--data-dir", dir, "the data dir")->capture_default_str();
  std::string org = "default";
  auto org_option = [&](CLI::App* cmd) {
    cmd->add_option("--org", org, "the job's organisation")->capture_default_str();
  };

  std::string metrics_file;
  const std::string metrics_help =
      "keep progress in this file in Prometheus text format (for a textfile collector)";
  auto* replay = app.add_subcommand(
      "replay", "delete and rebuild every derived record from the log (server stopped)");
  replay->add_option("--metrics-file", metrics_file, metrics_help);
  std::string job;
  auto* verify = app.add_subcommand(
      "verify", "refold every job (or one) and compare with what is stored; exit 1 on a difference");
  verify->add_option("--job", job, "only this job");
  verify->add_option("--metrics-file", metrics_file, metrics_help);
  unsigned verify_threads = 0;
  verify->add_option("--threads", verify_threads,
                     "jobs verified at once (default 0: one per core, or one beside a "
                     "running server)");
  org_option(verify);

  uint64_t from_position = 0;
  auto* exp = app.add_subcommand("export", "the log as NDJSON on stdout");
  exp->add_option("--job", job, "only this job's events");
  exp->add_option("--from-position", from_position, "only events after this position");
  org_option(exp);

  std::string file, import_org;
  auto* imp = app.add_subcommand("import", "append an export (NDJSON); idempotent, keeps recorded_at");
  imp->add_option("FILE", file, "the NDJSON file")->required();
  imp->add_option("--org", import_org, "the organisation of lines that name none");

  std::string as_of;
  int64_t as_of_version = -1;
  size_t files_limit = 50;
  auto* status = app.add_subcommand("status", "a job's status, now or in the past");
  status->add_option("JOB", job, "the job id")->required();
  org_option(status);
  auto* as_of_opt = status->add_option("--as-of", as_of, "an RFC 3339 instant");
  status->add_option("--as-of-version", as_of_version, "a version (N events)")
      ->check(CLI::NonNegativeNumber)
      ->excludes(as_of_opt);
  status->add_option("--files-limit", files_limit, "files shown")->check(CLI::Range(1, 500));

  uint64_t from_version = 1;
  auto* events = app.add_subcommand("events", "a job's events as NDJSON");
  events->add_option("JOB", job, "the job id")->required();
  events->add_option("--from-version", from_version, "the first version");
  org_option(events);

  std::string target;
  auto* backup = app.add_subcommand("backup", "a consistent, checked backup (server stopped)");
  backup->add_option("DIR", target, "the backup dir (incremental across runs)")->required();
  auto* restore = app.add_subcommand("restore", "restore the newest backup into --data-dir");
  restore->add_option("DIR", target, "the backup dir")->required();

  auto* space =
      app.add_subcommand("space", "disk use per column family, truth and derived");

  auto* keys = app.add_subcommand("keys", "API keys in the keys file");
  keys->require_subcommand(1);
  std::string keys_file, name, key_org;
  std::vector<std::string> scopes;
  keys->add_option("--keys-file", keys_file, "the keys file (default DATA_DIR/keys.json)");
  auto* add = keys->add_subcommand("add", "create a key; prints it once");
  add->add_option("--name", name, "the key's name")->required();
  add->add_option("--org", key_org, "its organisation")->required();
  add->add_option("--scopes", scopes, "comma-separated scopes")->required()->delimiter(',');
  auto* list = keys->add_subcommand("list", "names, organisations and scopes");
  auto* revoke = keys->add_subcommand("revoke", "remove a key");
  revoke->add_option("--name", name, "the key's name")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, or the error and a hint
    return code == 0 ? 0 : 2;      // every usage error is 2
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);

  if (replay->parsed()) return Replay(dir, metrics_file);
  if (verify->parsed()) return Verify(dir, org, job, metrics_file, verify_threads);
  if (exp->parsed()) return Export(dir, org, job, from_position);
  if (imp->parsed()) return Import(dir, file, import_org);
  if (status->parsed()) return ShowStatus(dir, org, job, as_of, as_of_version, files_limit);
  if (events->parsed()) return Events(dir, org, job, from_version);
  if (backup->parsed()) return Backup(dir, target);
  if (restore->parsed()) return Restore(dir, target);
  if (space->parsed()) return Space(dir);
  const fs::path path = keys_file.empty() ? fs::path(dir) / "keys.json" : fs::path(keys_file);
  if (add->parsed()) {
    auto key = api::AddKey(path, name, key_org, scopes);
    if (!key) return Fail(key.error());
    std::printf("%s\n", key->c_str());
    std::fprintf(stderr, "key '%s' added to %s; it is shown only now\n", name.c_str(), path.c_str());
    return 0;
  }
  if (list->parsed()) {
    auto all = api::ListKeys(path);
    if (!all) return Fail(all.error());
    for (const auto& p : *all) {
      std::string joined;
      for (const auto& s : p.scopes) joined += (joined.empty() ? "" : ",") + s;
      std::printf("%s\torg=%s\tscopes=%s\n", p.name.c_str(), p.org.c_str(), joined.c_str());
    }
    return 0;
  }
  if (revoke->parsed()) {
    Status s = api::RevokeKey(path, name);
    if (!s.ok()) return Fail(s);
    std::printf("key '%s' revoked\n", name.c_str());
    return 0;
  }
  return 2;
}
