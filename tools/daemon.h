#pragma once
// RunDaemon: jobstated's wiring of storage, api and signals (tools/ is the only place
// where storage and api meet).

#include <cstdint>
#include <string>

namespace jobstate::tools {

struct DaemonOptions {
  std::string data_dir = "./jobstate-data";
  std::string listen = "127.0.0.1:8080";
  std::string port_file;       // empty: none
  std::string keys_file;       // empty: DATA_DIR/keys.json
  std::string durability = "sync";
  unsigned threads = 0;        // 0: one per core
  std::string metrics_listen;  // empty: the main listener
  bool access_log = false;     // log every request (otherwise only 5xx answers)
  size_t max_connections = 10'000;
};

// Runs the server until SIGTERM or SIGINT; returns the process exit code.
int RunDaemon(const DaemonOptions& options);

}  // namespace jobstate::tools
