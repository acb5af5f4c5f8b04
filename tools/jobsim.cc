// jobsim: simulated indexing workers driving a jobstated through its public API.
#include <CLI/CLI.hpp>

#include "tools/sim.h"

int main(int argc, char** argv) {
  jobstate::tools::SimOptions o;
  CLI::App app{"jobsim: simulated indexing workers"};
  app.add_option("--url", o.url, "the server, http://HOST:PORT")->capture_default_str();
  app.add_option("--key", o.key, "an API key with events:write and jobs:read")->required();
  app.add_option("--jobs", o.jobs, "jobs to run")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--files", o.files, "files per job")->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--workers", o.workers, "concurrent workers")->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--speed", o.speed, "time scale (2 = twice as fast)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--fail-rate", o.fail_rate,
                 "share of files whose first attempt fails; a quarter of them are "
                 "corrupt and fail for good, the rest are retried")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_flag("!--quiet", o.watch, "do not print progress while the jobs run");
  CLI11_PARSE(app, argc, argv);
  return jobstate::tools::RunSim(o);
}
