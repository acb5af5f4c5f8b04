#pragma once
// The worker simulator behind `jobsim` (OPERATIONS.md): N jobs of M files, every file
// walked through the stages by concurrent simulated workers, through the public HTTP
// API only.

#include <cstdint>
#include <string>

namespace jobstate::tools {

struct SimOptions {
  std::string url = "http://127.0.0.1:8080";
  std::string key;
  int jobs = 3;
  int files = 40;
  int workers = 4;
  double speed = 1.0;      // > 1 runs faster than real indexing
  double fail_rate =
      0.05;  // share of files whose first attempt fails (a quarter for good)
  uint64_t seed = 1;
  bool watch = true;       // print the jobs' progress while they run
};

// Runs the simulation to the end; returns the process exit code.
int RunSim(const SimOptions& options);

}  // namespace jobstate::tools
