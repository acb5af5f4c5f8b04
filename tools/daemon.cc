#include "tools/daemon.h"

#include <fstream>
#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "api/crypto.h"
#include "api/problem.h"
#include "api/server.h"
#include "storage/store.h"

namespace jobstate::tools {

namespace net = boost::asio;
namespace fs = std::filesystem;

namespace {

// The cursor secret lives in the data dir so cursors stay valid across restarts.
Result<std::string> LoadCursorSecret(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (secret.size() >= 32) return secret;
  secret = api::RandomBytes(32);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << secret;
  if (!out.flush()) return Err(Status::Unavailable("cannot write " + path.string()));
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  return secret;
}

bool SplitHostPort(const std::string& s, std::string& host, uint16_t& port) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  host = s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  try {
    const int p = std::stoi(s.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = static_cast<uint16_t>(p);
  } catch (...) {
    return false;
  }
  return true;
}

// One log line per reload of the keys file, whatever asked for it (`trigger`: "change"
// when the poll saw the file change, "sighup"), so that an operator's search for
// keys_reload_failed finds every refused edit.
void LogKeysReload(const Status& s, std::string_view trigger) {
  if (s.ok()) {
    spdlog::info("event=keys_reloaded trigger={}", trigger);
  } else {
    spdlog::warn("event=keys_reload_failed trigger={} msg=\"{}; the keys in force stay\"",
                 trigger, s.message());
  }
}

// Re-reads the keys file once a second when it changed.
void WatchKeys(net::steady_timer& timer, api::KeyStore& keys) {
  timer.expires_after(std::chrono::seconds(1));
  timer.async_wait([&timer, &keys](boost::system::error_code ec) {
    if (ec) return;
    if (const auto s = keys.ReloadIfChanged()) LogKeysReload(*s, "change");
    WatchKeys(timer, keys);
  });
}

}  // namespace

int RunDaemon(const DaemonOptions& o) {
  spdlog::set_default_logger(spdlog::stderr_logger_mt("jobstated"));  // logs go to stderr
  spdlog::set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  std::string host;
  uint16_t port = 0;
  if (!SplitHostPort(o.listen, host, port)) {
    spdlog::error("event=bad_flag flag=--listen value={} msg=\"expected HOST:PORT\"", o.listen);
    return 2;
  }
  if (o.durability != "sync" && o.durability != "buffered") {
    spdlog::error("event=bad_flag flag=--durability value={} msg=\"sync or buffered\"", o.durability);
    return 2;
  }
  engine::SystemClock clock;
  api::ChangeHub hub;  // outlives the store, whose commits it announces
  api::Metrics metrics;
  storage::StoreOptions so;
  so.sequencer.on_commit = [&hub, &metrics](const engine::CommitNotice& n) {
    hub.Publish(n);
    metrics.ObserveCommit(n);
  };
  so.path = o.data_dir;
  so.sequencer.durability =
      o.durability == "sync" ? storage::Durability::kSync : storage::Durability::kBuffered;
  auto store = storage::Store::Open(so, clock);
  if (!store) {
    spdlog::error("event=open_failed data_dir={} msg=\"{}\"", o.data_dir, store.error().message());
    return 1;
  }
  if (const auto& up = (*store)->upgrade()) {
    spdlog::info(
        "event=data_dir_upgraded data_dir={} from={} to={} jobs={} seconds={:.3f}",
        o.data_dir, up->from, up->to, up->jobs, up->seconds);
  }
  const fs::path dir(o.data_dir);
  const fs::path keys_path = o.keys_file.empty() ? dir / "keys.json" : fs::path(o.keys_file);
  bool created_dev_key = false;
  auto keys = api::KeyStore::Open(keys_path, dir / "dev-api-key", &created_dev_key);
  if (!keys) {
    spdlog::error("event=keys_failed file={} msg=\"{}\"", keys_path.string(), keys.error().message());
    return 1;
  }
  auto secret = LoadCursorSecret(dir / "cursor-secret");
  if (!secret) {
    spdlog::error("event=secret_failed msg=\"{}\"", secret.error().message());
    return 1;
  }
  api::CursorCodec cursors(*secret);
  api::Operations operations(**store, clock, &metrics);
  api::ServiceOptions service_options;
  service_options.metrics = &metrics;
  service_options.operations = &operations;
  // One key=value line per request; the request id is the one in X-Request-Id and in
  // every problem+json body, so a client's report leads straight to its line.
  service_options.on_request = [access_log = o.access_log](const api::RequestRecord& r) {
    if (r.status < 500 && !access_log) return;
    const std::string code = r.status >= 400 ? api::ProblemCode(r.body) : "";
    const auto level = r.status >= 500 ? spdlog::level::err : spdlog::level::info;
    spdlog::log(level,
                "event=request request_id={} method={} target=\"{}\" route=\"{}\" status={} "
                "code={} key={} org=\"{}\" ms={:.3f}",
                r.request_id, r.method, r.target, r.route, r.status,
                code.empty() ? "-" : code, r.key_name.empty() ? "-" : r.key_name,
                r.org, r.seconds * 1000);
  };
  service_options.serve_metrics = o.metrics_listen.empty();
  api::Service service(**store, **keys, clock, cursors, hub, service_options);
  const unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  // One io_context per HTTP thread, each connection on one of them (so a request never
  // crosses threads, as in an nginx worker), and `ioc` for accepting, signals and timers.
  net::io_context ioc(1);
  std::vector<std::unique_ptr<net::io_context>> worker_contexts;
  std::vector<net::io_context*> workers;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running;
  for (unsigned i = 0; i < threads; ++i) {
    worker_contexts.push_back(std::make_unique<net::io_context>(1));
    workers.push_back(worker_contexts.back().get());
    keep_running.push_back(net::make_work_guard(*workers.back()));
  }
  api::ServerOptions server_options;
  server_options.max_connections = o.max_connections;
  api::Server server(ioc, service, server_options, workers);
  auto bound = server.Listen(host, port);
  if (!bound) {
    spdlog::error("event=listen_failed listen={} msg=\"{}\"", o.listen, bound.error().message());
    return 1;
  }
  // /metrics on a listener of its own, when asked: a service that answers nothing else.
  api::ServiceOptions metrics_only = service_options;
  metrics_only.serve_metrics = true;
  metrics_only.metrics_only = true;
  api::Service metrics_service(**store, **keys, clock, cursors, hub, metrics_only);
  std::optional<api::Server> metrics_server;
  if (!o.metrics_listen.empty()) {
    std::string mhost;
    uint16_t mport = 0;
    if (!SplitHostPort(o.metrics_listen, mhost, mport)) {
      spdlog::error("event=bad_flag flag=--metrics-listen value={} msg=\"expected HOST:PORT\"",
                    o.metrics_listen);
      return 2;
    }
    metrics_server.emplace(ioc, metrics_service, api::ServerOptions{}, workers);
    auto mbound = metrics_server->Listen(mhost, mport);
    if (!mbound) {
      spdlog::error("event=listen_failed listen={} msg=\"{}\"", o.metrics_listen,
                    mbound.error().message());
      return 1;
    }
    spdlog::info("event=metrics_listening listen={}:{}", mhost, *mbound);
  }
  metrics.SetSources({[&server] { return server.open_connections(); },
                      [&service] { return service.watchers(); },
                      [&hub] { return hub.status_cache().stats(); }});
  if (!o.port_file.empty()) std::ofstream(o.port_file, std::ios::trunc) << *bound << "\n";
  const fs::path dev_key = dir / "dev-api-key";
  std::error_code dev_ec;
  spdlog::info("event=started listen={}:{} data_dir={} durability={} threads={} keys_file={} "
               "dev_key={} metrics=\"{}\" access_log={}",
               host, *bound, o.data_dir, o.durability, threads, keys_path.string(),
               fs::exists(dev_key, dev_ec) ? dev_key.string() : "-",
               o.metrics_listen.empty() ? "main listener" : o.metrics_listen, o.access_log);
  if (o.durability == "buffered") {
    spdlog::warn("event=durability_buffered msg=\"the WAL is synced about once a second: a "
                 "machine crash can lose the last second of acknowledged events\"");
  }
  if (created_dev_key) {
    spdlog::info("event=dev_key_created path={} msg=\"development key (org default, every "
                 "scope)\"", (dir / "dev-api-key").string());
  }
  server.Start();
  if (metrics_server) metrics_server->Start();
  net::steady_timer keys_timer(ioc);
  WatchKeys(keys_timer, **keys);
  net::signal_set signals(ioc, SIGINT, SIGTERM, SIGHUP);
  std::function<void(boost::system::error_code, int)> on_signal =
      [&](boost::system::error_code ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          LogKeysReload((*keys)->Reload(), "sighup");
          signals.async_wait(on_signal);
          return;
        }
        spdlog::info("event=stopping signal={}", sig);
        keys_timer.cancel();
        server.Shutdown();
        if (metrics_server) metrics_server->Shutdown();
        hub.Close();  // waiting reads answer now; watch streams end
        keep_running.clear();  // each worker returns once its connections have closed
      };
  signals.async_wait(on_signal);
  std::vector<std::thread> pool;
  for (net::io_context* w : workers) pool.emplace_back([w] { w->run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  store->reset();  // commits what is queued, syncs, closes
  spdlog::info("event=stopped");
  return 0;
}

}  // namespace jobstate::tools
