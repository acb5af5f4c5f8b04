// The ETA benchmark of issue #5, scored exactly as ../shared/eta/README.md defines it:
//
//   eta_bench [--traces DIR]     (default: $JOBSTATE_ETA_TRACES, else ../shared/eta/traces)
//             [--interval BASE,EVIDENCE,Z_LOW,Z_HIGH]   (try other interval constants)
//             [--dump JOB_ID]   (print that trace's grid: truth, estimate, interval, model)
//             [--job-workers keep|drop]   (drop: as if no job sent job.workers, so the
//                                          engine infers every job's lanes)
//
// Every trace is imported, in the README's fixed order, into one fresh data dir through
// the commit path with recorded_at = occurred_at (so earlier jobs are the history of
// later ones), then read by time travel at each grid instant t_k = floor(k·D/200),
// k = 1..199. The engine's estimate (`progress.estimated_completion_at` − the read's
// instant, in milliseconds, as the README allows) and interval are scored
// beside the README's two baselines (linear_count, tqdm_ema), computed here from the
// events alone. Prints the per-trace table and the aggregate.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "api/json_events.h"
#include "api/time_format.h"
#include "engine/clock.h"
#include "engine/status_view.h"
#include "storage/store.h"

namespace {

using namespace jobstate;
namespace fs = std::filesystem;
namespace json = boost::json;
using engine::Millis;

constexpr int kGrid = 200;  // k = 1 .. kGrid-1

struct Trace {
  std::string id;
  Millis start = 0, end = 0;
  std::vector<std::pair<double, double>> stalls_s;
  std::vector<json::value> events;  // as in the file
};

// --- loading --------------------------------------------------------------------------

std::optional<Trace> Load(const fs::path& truth_path, bool drop_job_workers) {
  Trace t;
  std::ifstream tin(truth_path);
  std::stringstream text;
  text << tin.rdbuf();
  const json::value truth = json::parse(text.str());
  t.id = std::string(truth.at("job_id").as_string());
  t.start = *api::ParseInstant(truth.at("start").as_string());
  t.end = *api::ParseInstant(truth.at("end").as_string());
  for (const auto& w : truth.at("annotations").at("stalls_s").as_array()) {
    t.stalls_s.emplace_back(w.at(0).to_number<double>(), w.at(1).to_number<double>());
  }
  const fs::path events = truth_path.parent_path() / (t.id + ".ndjson.gz");
  FILE* p = popen(("zcat '" + events.string() + "'").c_str(), "r");
  if (!p) return std::nullopt;
  std::string line;
  for (int c; (c = std::fgetc(p)) != EOF;) {
    if (c != '\n') {
      line.push_back(static_cast<char>(c));
      continue;
    }
    if (!line.empty()) {
      json::value e = json::parse(line);
      const bool dropped = drop_job_workers && e.at("type") == "job.workers";
      if (!dropped) t.events.push_back(std::move(e));
    }
    line.clear();
  }
  pclose(p);
  return t;
}

Millis At(const json::value& e) { return *api::ParseInstant(e.at("occurred_at").as_string()); }
std::string_view Type(const json::value& e) { return e.at("type").as_string(); }
bool IsFileEnd(std::string_view t) {
  return t == "file.completed" || t == "file.failed" || t == "file.skipped" || t == "file.cancelled";
}
bool IsFinal(std::string_view t) {
  return t == "job.completed" || t == "job.failed" || t == "job.cancelled";
}

// --- estimates on the grid ---------------------------------------------------------------

struct Estimates {
  std::vector<std::optional<double>> e, lo, hi;  // seconds, by k (index 0 unused)
};

Millis GridT(const Trace& t, int k) { return static_cast<Millis>(std::floor(k * (t.end - t.start) / double(kGrid))); }

Estimates LinearCount(const Trace& t) {
  Estimates out;
  out.e.resize(kGrid);
  size_t i = 0;
  int64_t n_total = 0, n_done = 0;
  bool final = false;
  for (int k = 1; k < kGrid; ++k) {
    const Millis now = t.start + GridT(t, k);
    for (; i < t.events.size() && At(t.events[i]) <= now; ++i) {
      const auto type = Type(t.events[i]);
      if (type == "files.discovered") n_total += static_cast<int64_t>(t.events[i].at("data").at("files").as_array().size());
      if (IsFileEnd(type)) ++n_done;
      if (IsFinal(type)) final = true;
    }
    if (final) {
      out.e[k] = 0;
    } else if (n_done > 0) {
      out.e[k] = std::max(0.0, double(now - t.start) * double(n_total - n_done) / double(n_done)) / 1000;
    }
  }
  return out;
}

Estimates TqdmEma(const Trace& t) {
  Estimates out;
  out.e.resize(kGrid);
  constexpr double kAlpha = 0.3;
  double ema_dn = 0, ema_dt = 0;
  int updates = 0;
  Millis last_t = t.start;
  int64_t last_n = 0, n_total = 0, n_done = 0;
  std::optional<double> shown;  // seconds, frozen between refreshes
  bool final = false;
  size_t i = 0;
  for (int k = 1; k < kGrid; ++k) {
    const Millis now = t.start + GridT(t, k);
    for (; i < t.events.size() && At(t.events[i]) <= now; ++i) {
      const auto type = Type(t.events[i]);
      const Millis at = At(t.events[i]);
      if (type == "files.discovered") n_total += static_cast<int64_t>(t.events[i].at("data").at("files").as_array().size());
      if (IsFinal(type)) final = true;
      if (!IsFileEnd(type)) continue;
      ++n_done;  // an event that raises n
      const Millis dt = at - last_t;
      if (dt < 100) continue;
      const int64_t dn = n_done - last_n;
      double rate;
      if (dn > 0 && dt > 0) {
        ema_dn = kAlpha * double(dn) + (1 - kAlpha) * ema_dn;
        ema_dt = kAlpha * double(dt) + (1 - kAlpha) * ema_dt;
        ++updates;
      }
      if (updates > 0) {
        const double corr = 1 - std::pow(1 - kAlpha, updates);
        rate = (ema_dn / corr) / (ema_dt / corr);  // files per ms
      } else {
        rate = double(n_done) / double(at - t.start);
      }
      shown = double(n_total - n_done) / rate / 1000;
      last_t = at;
      last_n = n_done;
    }
    if (final) {
      out.e[k] = 0;
    } else {
      out.e[k] = shown;
    }
  }
  return out;
}

// --- metrics (README, "Scoring protocol") -------------------------------------------------

struct Scores {
  double nae = 0, mare = 0, factor = 0, tv = 0, went_up = 0, coverage = 0, first = 1;
  double stall_nae = NAN, interval_coverage = NAN, width = NAN, pinball = NAN;
  double bias = NAN, optimistic = NAN, cold_start = NAN;
  std::array<double, 5> checkpoints{};  // signed relative error at 10, 25, 50, 75, 90% of D
};
constexpr std::array<double, 5> kCheckpointShares{0.10, 0.25, 0.50, 0.75, 0.90};

Scores Score(const Trace& t, const Estimates& est) {
  Scores s;
  const double d = double(t.end - t.start) / 1000;
  const double c = std::max(1.0, 0.01 * d);
  const int n = kGrid - 1;
  double mare_sum = 0, factor_sum = 0, stall_sum = 0, bias_sum = 0, cold_sum = 0;
  int mare_n = 0, covered = 0, stall_n = 0, went_up = 0, interval_n = 0, inside = 0;
  int optimistic = 0, cold_n = 0;
  double width_sum = 0, pinball_sum = 0;
  auto rho = [](double q, double u) { return std::max(q * u, (q - 1) * u); };
  // The grid point nearest p·D, for each checkpoint share p.
  std::array<int, 5> nearest{};
  for (size_t i = 0; i < nearest.size(); ++i) {
    double best = 1e300;
    for (int k = 1; k < kGrid; ++k) {
      const double dist = std::abs(double(GridT(t, k)) / 1000 - kCheckpointShares[i] * d);
      if (dist < best) best = dist, nearest[i] = k;
    }
  }
  std::optional<double> prev_c;
  for (int k = 1; k < kGrid; ++k) {
    const double tk = double(GridT(t, k)) / 1000;
    const double r = d - tk;
    const double e = est.e[k].value_or(0);
    s.nae += std::abs(e - r);
    if (tk <= 0.9 * d) {
      mare_sum += std::abs(e - r) / r;
      ++mare_n;
    }
    if (tk <= 0.1 * d) {
      cold_sum += std::abs(e - r) / r;
      ++cold_n;
    }
    for (size_t i = 0; i < nearest.size(); ++i) {
      if (nearest[i] == k) s.checkpoints[i] = (e - r) / r;
    }
    for (const auto& [from, to] : t.stalls_s) {
      if (tk >= from && tk <= to) {
        stall_sum += std::abs(e - r);
        ++stall_n;
      }
    }
    if (est.e[k]) {
      if (covered == 0) s.first = tk / d;
      ++covered;
      factor_sum += std::abs(std::log((*est.e[k] + c) / (r + c)));
      bias_sum += std::log((*est.e[k] + c) / (r + c));
      optimistic += *est.e[k] < r;
      const double ck = tk + *est.e[k];
      if (prev_c) s.tv += std::abs(ck - *prev_c);
      prev_c = ck;
      if (k + 1 < kGrid && est.e[k + 1] && *est.e[k + 1] > *est.e[k] + 0.01 * d) ++went_up;
    }
    if (!est.lo.empty() && est.lo[k] && est.hi[k]) {
      ++interval_n;
      inside += *est.lo[k] <= r && r <= *est.hi[k];
      width_sum += (*est.hi[k] - *est.lo[k]) / d;
      pinball_sum += (rho(0.1, r - *est.lo[k]) + rho(0.9, r - *est.hi[k])) / d;
    }
  }
  s.nae /= n * d;
  s.mare = mare_n ? mare_sum / mare_n : 0;
  s.factor = covered ? std::exp(factor_sum / covered) : NAN;
  s.bias = covered ? bias_sum / covered : NAN;
  s.optimistic = covered ? double(optimistic) / covered : NAN;
  s.cold_start = cold_n ? cold_sum / cold_n : NAN;
  s.tv /= d;
  s.went_up = double(went_up) / (kGrid - 2);
  s.coverage = double(covered) / n;
  if (stall_n) s.stall_nae = stall_sum / (stall_n * d);
  if (interval_n) {
    s.interval_coverage = double(inside) / interval_n;
    s.width = width_sum / interval_n;
    s.pinball = pinball_sum / interval_n;
  }
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
double Sum(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum;
}
double Mean(const std::vector<double>& v) { return v.empty() ? NAN : Sum(v) / double(v.size()); }

// --- the engine, by time travel ----------------------------------------------------------

// Imports every trace in order, then reads each grid instant as of its time.
std::optional<std::vector<Estimates>> Engine(const std::vector<Trace>& traces,
                                             const engine::ViewOptions& view_options,
                                             const std::string& dump) {
  const fs::path dir = fs::temp_directory_path() / "jobstate-eta-bench";
  fs::remove_all(dir);
  engine::SystemClock clock;
  storage::StoreOptions options;
  options.path = dir.string();
  options.sequencer.durability = storage::Durability::kBuffered;
  auto store = storage::Store::Open(options, clock);
  if (!store) return std::nullopt;
  for (const Trace& t : traces) {
    engine::AppendRequest batch{"default", "eta-bench", {}, {}};
    auto flush = [&]() -> bool {
      if (batch.events.empty()) return true;
      auto r = (*store)->Append(std::move(batch));
      batch = engine::AppendRequest{"default", "eta-bench", {}, {}};
      if (!r) std::fprintf(stderr, "%s: import: %s\n", t.id.c_str(), r.error().ToString().c_str());
      return r.has_value();
    };
    for (const json::value& line : t.events) {
      auto e = api::ParseEvent(line, "");
      if (!e) {
        std::fprintf(stderr, "%s: %s\n", t.id.c_str(), e.error().ToString().c_str());
        return std::nullopt;
      }
      batch.imported.push_back({e->occurred_at, std::nullopt});
      batch.events.push_back(std::move(*e));
      if (batch.events.size() == 1000 && !flush()) return std::nullopt;
    }
    if (!flush()) return std::nullopt;
  }
  std::vector<Estimates> out;
  engine::FileQuery one;
  one.limit = 1;
  for (const Trace& t : traces) {
    Estimates est;
    est.e.resize(kGrid);
    est.lo.resize(kGrid);
    est.hi.resize(kGrid);
    size_t seen = 0;
    for (int k = 1; k < kGrid; ++k) {
      const Millis now = t.start + GridT(t, k);
      while (seen < t.events.size() && At(t.events[seen]) <= now) ++seen;
      auto read = (*store)->ReadAsOf("default", t.id, engine::AsOf{std::nullopt, now}, one);
      if (!read || read->page.job.version != seen) {
        std::fprintf(stderr, "%s: read at k=%d: %s\n", t.id.c_str(), k,
                     read ? "wrong version" : read.error().ToString().c_str());
        return std::nullopt;
      }
      auto read_view = engine::ReadStatusView(**store, read->page.job, read->at, true, view_options);
      if (!read_view) {
        std::fprintf(stderr, "%s: view at k=%d: %s\n", t.id.c_str(), k, read_view.error().ToString().c_str());
        return std::nullopt;
      }
      const engine::JobStatusView& view = *read_view;
      // The README's millisecond reading: estimated_completion_at − as_of, so the
      // API's whole seconds draw no staircase into TV and the went-up share.
      if (view.progress.estimated_completion_at) {
        est.e[k] = double(*view.progress.estimated_completion_at - read->at) / 1000;
      }
      if (view.progress.eta_low_seconds) est.lo[k] = double(*view.progress.eta_low_seconds);
      if (view.progress.eta_high_seconds) est.hi[k] = double(*view.progress.eta_high_seconds);
      if (t.id == dump) {
        // --dump: the grid of one trace, to see where the error comes from.
        const double tk = double(now - t.start) / 1000;
        std::printf("dump %s k=%3d t=%7.3f R=%7.3f E=%7.3f [%s, %s] model=%7.3f own=%7.3f hold=%7.3f files %ld/%ld\n",
                    t.id.c_str(), k, tk, double(t.end - t.start) / 1000 - tk,
                    est.e[k].value_or(NAN), est.lo[k] ? std::to_string(*est.lo[k]).c_str() : "-",
                    est.hi[k] ? std::to_string(*est.hi[k]).c_str() : "-",
                    [&] {
                      auto prior = (*store)->GetEtaHistory(read->page.job, read->at);
                      const engine::EtaHistory* p = prior && *prior ? &**prior : nullptr;
                      return engine::EtaModelSecondsRemaining(read->page.job, read->at, p).value_or(NAN);
                    }(),
                    engine::EtaModelSecondsRemaining(read->page.job, read->at).value_or(NAN),
                    read->page.job.eta.filter ? double(read->page.job.eta.filter->shown_end -
                                                       read->page.job.eta.filter->model_end) / 1000
                                              : NAN,
                    long(read->page.job.files_processed()), long(read->page.job.files_total()));
      }
    }
    out.push_back(std::move(est));
  }
  store->reset();
  fs::remove_all(dir);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = std::getenv("JOBSTATE_ETA_TRACES") ? std::getenv("JOBSTATE_ETA_TRACES")
                                                       : "../shared/eta/traces";
  engine::ViewOptions view_options;
  std::string dump;
  bool drop_job_workers = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--traces") dir = argv[i + 1];
    if (std::string(argv[i]) == "--job-workers") {
      drop_job_workers = std::string(argv[i + 1]) == "drop";
      if (!drop_job_workers && std::string(argv[i + 1]) != "keep") {
        std::fprintf(stderr, "eta_bench: --job-workers wants keep or drop\n");
        return 2;
      }
    }
    if (std::string(argv[i]) == "--dump") dump = argv[i + 1];
    if (std::string(argv[i]) == "--interval") {
      auto& m = view_options.eta_interval;
      if (std::sscanf(argv[i + 1], "%lf,%lf,%lf,%lf", &m.base, &m.evidence, &m.z_low, &m.z_high) != 4) {
        std::fprintf(stderr, "eta_bench: --interval wants BASE,EVIDENCE,Z_LOW,Z_HIGH\n");
        return 2;
      }
    }
  }
  std::vector<fs::path> truths;
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    if (f.path().string().ends_with(".truth.json")) truths.push_back(f.path());
  }
  if (truths.empty()) {
    std::printf("eta_bench: no traces in %s (set --traces or JOBSTATE_ETA_TRACES); nothing to score\n",
                dir.c_str());
    return 0;
  }
  std::sort(truths.begin(), truths.end());  // the README's fixed order
  std::vector<Trace> traces;
  for (const auto& p : truths) {
    auto t = Load(p, drop_job_workers);
    if (!t) return 1;
    traces.push_back(std::move(*t));
  }
  auto engine = Engine(traces, view_options, dump);
  if (!engine) return 1;

  struct Row {
    Scores engine, linear, tqdm;
  };
  std::vector<Row> rows;
  std::printf("%-20s %8s  %-34s %-34s %-34s\n", "trace", "D (s)", "engine NAE/MARE/factor/TV/up",
              "linear_count", "tqdm_ema");
  for (size_t i = 0; i < traces.size(); ++i) {
    Row r{Score(traces[i], (*engine)[i]), Score(traces[i], LinearCount(traces[i])),
          Score(traces[i], TqdmEma(traces[i]))};
    auto cell = [](const Scores& s) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f / %.3f / %.2f / %.2f / %.3f", s.nae, s.mare, s.factor,
                    s.tv, s.went_up);
      return std::string(buf);
    };
    std::printf("%-20s %8.3f  %-34s %-34s %-34s\n", traces[i].id.c_str(),
                double(traces[i].end - traces[i].start) / 1000, cell(r.engine).c_str(),
                cell(r.linear).c_str(), cell(r.tqdm).c_str());
    rows.push_back(r);
  }
  // The README's other metrics, for the engine: bias, the checkpoints, cold start,
  // stalls and the interval.
  std::printf("\n%-20s %7s %6s  %-36s %6s %6s %6s %6s %7s %6s\n", "engine", "bias", "optim",
              "checkpoints 10/25/50/75/90%", "cold", "stall", "P10-90", "width", "pinball",
              "first");
  for (size_t i = 0; i < traces.size(); ++i) {
    const Scores& e = rows[i].engine;
    std::printf("%-20s %7.3f %6.3f  %+6.2f %+6.2f %+6.2f %+6.2f %+6.2f   %6.3f %6.3f %6.3f %6.3f %7.4f %6.3f\n",
                traces[i].id.c_str(), e.bias, e.optimistic, e.checkpoints[0], e.checkpoints[1],
                e.checkpoints[2], e.checkpoints[3], e.checkpoints[4], e.cold_start, e.stall_nae,
                e.interval_coverage, e.width, e.pinball, e.first);
  }
  auto column = [&](auto pick) {
    std::vector<double> v;
    for (const Row& r : rows) v.push_back(pick(r));
    return v;
  };
  std::printf("\n%-34s %12s %12s %12s\n", "aggregate", "engine", "linear_count", "tqdm_ema");
  auto line = [&](const char* name, auto agg, auto field) {
    std::printf("%-34s %12.3f %12.3f %12.3f\n", name,
                agg(column([&](const Row& r) { return field(r.engine); })),
                agg(column([&](const Row& r) { return field(r.linear); })),
                agg(column([&](const Row& r) { return field(r.tqdm); })));
  };
  line("median NAE", Median, [](const Scores& s) { return s.nae; });
  // The target is read against the engine's median to the fourth decimal.
  std::printf("%-34s %12.4f\n", "median NAE, 4 decimals",
              Median(column([](const Row& r) { return r.engine.nae; })));
  line("median MARE", Median, [](const Scores& s) { return s.mare; });
  line("mean factor error", Mean, [](const Scores& s) { return s.factor; });
  line("median TV", Median, [](const Scores& s) { return s.tv; });
  line("mean ETA-went-up share", Mean, [](const Scores& s) { return s.went_up; });
  // The same as a count of steps (the share rounds 61 and 62 rises alike).
  line("ETA-went-up steps, all traces", Sum,
       [](const Scores& s) { return std::round(s.went_up * (kGrid - 2)); });
  line("mean coverage", Mean, [](const Scores& s) { return s.coverage; });
  line("mean first estimate (t/D)", Mean, [](const Scores& s) { return s.first; });
  line("mean P10-P90 coverage", Mean, [](const Scores& s) { return s.interval_coverage; });
  line("mean P10-P90 width (hi-lo)/D", Mean, [](const Scores& s) { return s.width; });
  line("mean pinball loss /D", Mean, [](const Scores& s) { return s.pinball; });
  line("mean bias (log ratio)", Mean, [](const Scores& s) { return s.bias; });
  line("mean optimistic share", Mean, [](const Scores& s) { return s.optimistic; });
  line("mean cold start (MARE, t <= 0.1 D)", Mean, [](const Scores& s) { return s.cold_start; });
  for (size_t i = 0; i < kCheckpointShares.size(); ++i) {
    const std::string name = "mean |checkpoint| at " + std::to_string(int(kCheckpointShares[i] * 100)) + "% of D";
    line(name.c_str(), Mean, [i](const Scores& s) { return std::abs(s.checkpoints[i]); });
  }
  {
    // Stall NAE only where a trace has stalls.
    for (const Row& r : rows) {
      if (!std::isnan(r.engine.stall_nae)) {
        std::printf("%-34s %12.3f %12.3f %12.3f\n", "stall NAE", r.engine.stall_nae,
                    r.linear.stall_nae, r.tqdm.stall_nae);
      }
    }
  }
  double log_ratio_linear = 0, log_ratio_tqdm = 0;
  for (const Row& r : rows) {
    log_ratio_linear += std::log(r.engine.nae / r.linear.nae);
    log_ratio_tqdm += std::log(r.engine.nae / r.tqdm.nae);
  }
  std::printf("%-34s %12.3f\n", "geo-mean NAE ratio vs linear_count",
              std::exp(log_ratio_linear / double(rows.size())));
  std::printf("%-34s %12.3f\n", "geo-mean NAE ratio vs tqdm_ema",
              std::exp(log_ratio_tqdm / double(rows.size())));
  return 0;
}
