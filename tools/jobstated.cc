// jobstated: the Jobstate server (OPERATIONS.md).
#include <CLI/CLI.hpp>

#include "tools/daemon.h"

int main(int argc, char** argv) {
  jobstate::tools::DaemonOptions o;
  CLI::App app{"jobstated: the Jobstate server"};
  app.add_option("--data-dir", o.data_dir, "RocksDB and the engine's files (created if missing)")
      ->capture_default_str();
  app.add_option("--listen", o.listen, "HOST:PORT to serve on; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--port-file", o.port_file, "once listening, write the bound port here");
  app.add_option("--keys-file", o.keys_file, "API keys (default DATA_DIR/keys.json)");
  app.add_option("--durability", o.durability, "sync (default) or buffered")
      ->check(CLI::IsMember({"sync", "buffered"}));
  app.add_option("--threads", o.threads, "HTTP worker threads (default: one per core)");
  app.add_option("--metrics-listen", o.metrics_listen,
                 "where /metrics is served (default: the main listener)");
  app.add_option("--max-connections", o.max_connections,
                 "open connections allowed; one more is answered 503 and closed")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_flag("--access-log", o.access_log,
               "log every request (request id, route, status, time); 5xx answers are always logged");
  CLI11_PARSE(app, argc, argv);
  return jobstate::tools::RunDaemon(o);
}
