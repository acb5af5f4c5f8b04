#include "bench/compare_systems.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <hiredis.h>
#include <libpq-fe.h>
#include <rocksdb/db.h>

namespace jobstate::bench::compare {

namespace {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Says what went wrong the first few times only: a refused batch repeats.
void Complain(const std::string& system, const std::string& what) {
  static std::atomic<int> said{0};
  if (said.fetch_add(1) < 5) std::fprintf(stderr, "  %s: %s\n", system.c_str(), what.c_str());
}

// --- processes --------------------------------------------------------------------------

// Starts argv[0] (searched on PATH) with stdout and stderr into `log`, as `user` when
// given and this process is root (PostgreSQL refuses to run as root).
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log,
            const std::string& user = "") {
  uid_t uid = 0;
  gid_t gid = 0;
  const bool switch_user = !user.empty() && geteuid() == 0;
  if (switch_user) {
    const passwd* pw = getpwnam(user.c_str());
    if (!pw) throw std::runtime_error("no user " + user + " (is its package installed?)");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    setpgid(0, 0);  // its own group: a ^C to the benchmark does not reach it first
    if (switch_user && (setgid(gid) != 0 || setuid(uid) != 0)) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Sends `sig`, waits up to 30 s, then kills. The exit status.
int Terminate(pid_t pid, int sig = SIGTERM) {
  if (pid <= 0) return 0;
  kill(pid, sig);
  int status = 0;
  for (int i = 0; i < 3000; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return status;
}

int RunToEnd(const std::vector<std::string>& argv, const std::string& log,
             const std::string& user = "") {
  const pid_t pid = Spawn(argv, log, user);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// A port nothing listens on now (loopback).
uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    throw std::runtime_error("no free port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool Accepts(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

void WaitForPort(uint16_t port, pid_t pid, const std::string& what, const std::string& log) {
  for (int i = 0; i < 1500; ++i) {
    if (Accepts(port)) return;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error(what + " did not start; see " + log);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// --- HTTP -------------------------------------------------------------------------------

}  // namespace

struct HttpClient::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  std::string key;
};

HttpClient::HttpClient(uint16_t port, std::string key) : impl_(std::make_unique<Impl>()) {
  impl_->key = std::move(key);
  impl_->stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  impl_->stream.socket().set_option(net::ip::tcp::no_delay(true));
}

HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;
HttpClient::~HttpClient() = default;

HttpClient::Answer HttpClient::Get(const std::string& target) { return Call(false, target, ""); }

HttpClient::Answer HttpClient::Post(const std::string& target, const std::string& body) {
  return Call(true, target, body);
}

HttpClient::Answer HttpClient::Call(bool post, const std::string& target, const std::string& body) {
  http::request<http::string_body> req{post ? http::verb::post : http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!impl_->key.empty()) req.set(http::field::authorization, "Bearer " + impl_->key);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(impl_->stream, req);
  http::response<http::string_body> res;
  http::read(impl_->stream, impl_->buffer, res);
  return {res.result_int(), std::move(res.body())};
}

namespace {

class HttpConnection : public Connection {
 public:
  HttpConnection(std::string system, uint16_t port, std::string key, std::string status_target)
      : system_(std::move(system)), client_(port, std::move(key)), status_target_(std::move(status_target)) {}

  bool Ingest(const Batch& batch) override { return Check(client_.Post("/v2/events", batch.body)); }
  bool ReadStatus(const std::string& job_id) override {
    std::string target = status_target_;
    if (const size_t at = target.find("{id}"); at != std::string::npos) target.replace(at, 4, job_id);
    return Check(client_.Get(target));
  }

 private:
  bool Check(const HttpClient::Answer& a) {
    if (a.status == 200) return true;
    Complain(system_, std::to_string(a.status) + " " + a.body.substr(0, 200));
    return false;
  }

  std::string system_;
  HttpClient client_;
  std::string status_target_;
};

// --- Jobstate ---------------------------------------------------------------------------

class Jobstate : public JobstateSystem {
 public:
  explicit Jobstate(Paths paths) : paths_(std::move(paths)) {}
  ~Jobstate() override { Stop(); }
  std::string name() const override { return "jobstate"; }

  void Start(const std::string& dir) override {
    dir_ = dir;
    const std::string port_file = dir + "/port";
    pid_ = Spawn({fs::absolute(paths_.jobstated).string(), "--data-dir", dir + "/data", "--listen",
                  "127.0.0.1:0", "--port-file", port_file},
                 dir + "/server.log");
    for (int i = 0; i < 1500 && port_ == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      std::ifstream in(port_file);
      in >> port_;
    }
    if (port_ == 0) throw std::runtime_error("jobstated did not start; see " + dir + "/server.log");
    std::ifstream(dir + "/data/dev-api-key") >> key_;
  }
  void Stop() override {
    if (pid_ > 0) Terminate(pid_);
    pid_ = 0;
    port_ = 0;
  }
  std::unique_ptr<Connection> Connect() override {
    return std::make_unique<HttpConnection>(name(), port_, key_, kStatusTarget);
  }
  std::vector<pid_t> processes() const override { return {pid_}; }

  ReadBack ReadEverything() override {
    Stop();
    const std::string log = dir_ + "/replay.log";
    const auto t0 = Clock::now();
    const int code = RunToEnd({fs::absolute(paths_.jobctl).string(), "--data-dir", dir_ + "/data",
                               "replay"},
                              log);
    ReadBack r;
    r.seconds = Since(t0);
    r.how = "jobctl replay (rebuilds every derived record)";
    const std::string out = ReadFile(log);
    const size_t at = out.find("replayed ");
    if (code != 0 || at == std::string::npos) throw std::runtime_error("replay failed: " + out);
    r.events = std::stoull(out.substr(at + 9));
    return r;
  }

  HttpClient Client() const override { return HttpClient(port_, key_); }

 private:
  Paths paths_;
  std::string dir_, key_;
  pid_t pid_ = 0;
  uint16_t port_ = 0;
};

// --- PostgreSQL -------------------------------------------------------------------------

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin/";

// One element of a text-format array literal.
void AppendArrayElement(std::string& out, const std::string& value) {
  out += out.size() > 1 ? ",\"" : "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

class PgConnection : public Connection {
 public:
  explicit PgConnection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) {
      const std::string why = PQerrorMessage(conn_);
      PQfinish(conn_);
      throw std::runtime_error("postgresql: " + why);
    }
    // The whole batch in one statement, so one transaction: the events (a duplicate
    // event id is skipped) and each job's status row, counted from the new events only.
    Prepare("ingest",
            "WITH ins AS ("
            "  INSERT INTO events (event_id, job_id, type, body)"
            "  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])"
            "  ON CONFLICT (event_id) DO NOTHING RETURNING job_id, type) "
            "INSERT INTO job_status AS s (job_id, version, files_done, updated_at) "
            "SELECT job_id, count(*), count(*) FILTER (WHERE type = 'file.completed'), now() "
            "FROM ins GROUP BY job_id "
            "ON CONFLICT (job_id) DO UPDATE SET version = s.version + EXCLUDED.version,"
            "  files_done = s.files_done + EXCLUDED.files_done, updated_at = EXCLUDED.updated_at");
    Prepare("status", "SELECT job_id, version, files_done, updated_at FROM job_status WHERE job_id = $1");
  }
  ~PgConnection() override { PQfinish(conn_); }

  bool Ingest(const Batch& batch) override {
    std::string ids = "{", jobs = "{", types = "{", bodies = "{";
    for (const JsonEvent& e : batch.events) {
      AppendArrayElement(ids, e.event_id);
      AppendArrayElement(jobs, e.job_id);
      AppendArrayElement(types, e.type);
      AppendArrayElement(bodies, e.json);
    }
    ids += '}';
    jobs += '}';
    types += '}';
    bodies += '}';
    const char* params[] = {ids.c_str(), jobs.c_str(), types.c_str(), bodies.c_str()};
    return Exec("ingest", 4, params, PGRES_COMMAND_OK);
  }
  bool ReadStatus(const std::string& job_id) override {
    const char* params[] = {job_id.c_str()};
    return Exec("status", 1, params, PGRES_TUPLES_OK);
  }

 private:
  void Prepare(const char* name, const char* sql) {
    PGresult* r = PQprepare(conn_, name, sql, 0, nullptr);
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    const std::string why = ok ? "" : PQresultErrorMessage(r);
    PQclear(r);
    if (!ok) throw std::runtime_error(std::string("postgresql: prepare ") + name + ": " + why);
  }
  bool Exec(const char* name, int n, const char* const* params, ExecStatusType want) {
    PGresult* r = PQexecPrepared(conn_, name, n, params, nullptr, nullptr, 0);
    const bool ok = PQresultStatus(r) == want && (want != PGRES_TUPLES_OK || PQntuples(r) == 1);
    if (!ok) Complain("postgresql", std::string(name) + ": " + PQresultErrorMessage(r));
    PQclear(r);
    return ok;
  }

  PGconn* conn_;
};

class Postgres : public System {
 public:
  ~Postgres() override { Stop(); }
  std::string name() const override { return "postgresql"; }

  void Start(const std::string& dir) override {
    dir_ = dir;
    const std::string data = dir + "/pg";
    fs::create_directories(data);
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (!pw) throw std::runtime_error("no user postgres (is postgresql-15 installed?)");
      if (chown(data.c_str(), pw->pw_uid, pw->pw_gid) != 0 || chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("cannot give " + data + " to postgres");
      }
    }
    const std::string log = dir + "/postgresql.log";
    if (RunToEnd({std::string(kPgBin) + "initdb", "-D", data, "-U", "postgres", "--auth=trust",
                  "--no-sync"},
                 log, "postgres") != 0) {
      throw std::runtime_error("initdb failed; see " + log);
    }
    port_ = FreePort();
    // Defaults, durable: synchronous_commit on, fsync on. Enough connections for 128
    // readers; the socket in our folder, TCP on loopback (the clients use TCP).
    pid_ = Spawn({std::string(kPgBin) + "postgres", "-D", data, "-p", std::to_string(port_), "-k",
                  dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300"},
                 log, "postgres");
    WaitForPort(port_, pid_, "postgresql", log);
    conninfo_ = "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres user=postgres";
    PGconn* c = nullptr;
    for (int i = 0; i < 250; ++i) {  // accepting TCP precedes accepting sessions
      c = PQconnectdb(conninfo_.c_str());
      if (PQstatus(c) == CONNECTION_OK) break;
      PQfinish(c);
      c = nullptr;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!c) throw std::runtime_error("postgresql does not take sessions; see " + log);
    PGresult* r = PQexec(c,
        "CREATE TABLE events (id bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE,"
        "  job_id text NOT NULL, type text NOT NULL, body jsonb NOT NULL);"
        "CREATE INDEX events_by_job ON events (job_id, id);"  // a job's history, in order
        "CREATE TABLE job_status (job_id text PRIMARY KEY, version bigint NOT NULL,"
        "  files_done bigint NOT NULL, updated_at timestamptz NOT NULL);");
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    const std::string why = PQresultErrorMessage(r);
    PQclear(r);
    PQfinish(c);
    if (!ok) throw std::runtime_error("postgresql schema: " + why);
  }
  void Stop() override {
    if (pid_ > 0) Terminate(pid_, SIGINT);  // fast shutdown
    pid_ = 0;
  }
  std::unique_ptr<Connection> Connect() override {
    return std::make_unique<PgConnection>(conninfo_);
  }
  std::vector<pid_t> processes() const override { return {pid_}; }

  ReadBack ReadEverything() override {
    PGconn* c = PQconnectdb(conninfo_.c_str());
    const auto t0 = Clock::now();
    PGresult* r = PQexec(c, "COPY (SELECT event_id, job_id, type, body FROM events ORDER BY id) TO STDOUT");
    ReadBack back;
    back.how = "COPY of the events table in id order";
    if (PQresultStatus(r) == PGRES_COPY_OUT) {
      char* row = nullptr;
      while (PQgetCopyData(c, &row, 0) > 0) {
        ++back.events;
        PQfreemem(row);
      }
    }
    PQclear(r);
    while ((r = PQgetResult(c)) != nullptr) PQclear(r);
    back.seconds = Since(t0);
    PQfinish(c);
    return back;
  }

 private:
  std::string dir_, conninfo_;
  pid_t pid_ = 0;
  uint16_t port_ = 0;
};

// --- Redis ------------------------------------------------------------------------------

class RedisConnection : public Connection {
 public:
  explicit RedisConnection(uint16_t port) : c_(redisConnect("127.0.0.1", port)) {
    if (!c_ || c_->err) {
      const std::string why = c_ ? c_->errstr : "no memory";
      if (c_) redisFree(c_);
      throw std::runtime_error("redis: " + why);
    }
  }
  ~RedisConnection() override { redisFree(c_); }

  bool Ingest(const Batch& batch) override {
    // MULTI, XADD per event, each job's status hash, EXEC: one round trip (pipelined).
    size_t commands = 0;
    auto append = [&](std::vector<std::string> args) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      redisAppendCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data());
      ++commands;
    };
    std::map<std::string, std::pair<int64_t, int64_t>> jobs;  // job -> (events, files done)
    append({"MULTI"});
    for (const JsonEvent& e : batch.events) {
      append({"XADD", "events", "*", "event_id", e.event_id, "job_id", e.job_id, "type", e.type,
              "body", e.json});
      auto& [n, done] = jobs[e.job_id];
      ++n;
      done += e.type == "file.completed";
    }
    const std::string now = std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch()).count());
    for (const auto& [job, counts] : jobs) {
      append({"HINCRBY", "status:" + job, "version", std::to_string(counts.first)});
      append({"HINCRBY", "status:" + job, "files_done", std::to_string(counts.second)});
      append({"HSET", "status:" + job, "updated_at", now});
    }
    append({"EXEC"});
    bool ok = true;
    for (size_t i = 0; i < commands; ++i) {
      void* reply = nullptr;
      if (redisGetReply(c_, &reply) != REDIS_OK) {
        Complain("redis", c_->errstr);
        return false;
      }
      auto* r = static_cast<redisReply*>(reply);
      if (r->type == REDIS_REPLY_ERROR || (i + 1 == commands && r->type != REDIS_REPLY_ARRAY)) {
        Complain("redis", r->type == REDIS_REPLY_ERROR ? r->str : "EXEC aborted");
        ok = false;
      }
      freeReplyObject(r);
    }
    return ok;
  }
  bool ReadStatus(const std::string& job_id) override {
    auto* r = static_cast<redisReply*>(redisCommand(c_, "HGETALL status:%b", job_id.data(), job_id.size()));
    const bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
    if (r) freeReplyObject(r);
    return ok;
  }

  uint64_t ReadStream() {
    uint64_t n = 0;
    std::string from = "-";
    for (;;) {
      auto* r = static_cast<redisReply*>(
          redisCommand(c_, "XRANGE events %s + COUNT 10000", from.c_str()));
      if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        if (r) freeReplyObject(r);
        return n;
      }
      n += r->elements;
      from = "(" + std::string(r->element[r->elements - 1]->element[0]->str);
      freeReplyObject(r);
    }
  }

 private:
  redisContext* c_;
};

class Redis : public System {
 public:
  ~Redis() override { Stop(); }
  std::string name() const override { return "redis"; }
  void Start(const std::string& dir) override {
    port_ = FreePort();
    const std::string log = dir + "/redis.log";
    pid_ = Spawn({"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir", dir,
                  "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                  "--daemonize", "no", "--protected-mode", "no", "--logfile", log},
                 log);
    WaitForPort(port_, pid_, "redis", log);
  }
  void Stop() override {
    if (pid_ > 0) Terminate(pid_);
    pid_ = 0;
  }
  std::unique_ptr<Connection> Connect() override { return std::make_unique<RedisConnection>(port_); }
  std::vector<pid_t> processes() const override { return {pid_}; }
  ReadBack ReadEverything() override {
    RedisConnection c(port_);
    const auto t0 = Clock::now();
    ReadBack r;
    r.events = c.ReadStream();
    r.seconds = Since(t0);
    r.how = "XRANGE over the stream, 10,000 entries a call";
    return r;
  }

 private:
  pid_t pid_ = 0;
  uint16_t port_ = 0;
};

// --- nginx ------------------------------------------------------------------------------

class Nginx : public System {
 public:
  explicit Nginx(std::string body) : body_(std::move(body)) {}
  ~Nginx() override { Stop(); }
  std::string name() const override { return "nginx"; }
  bool ingests() const override { return false; }

  void Start(const std::string& dir) override {
    port_ = FreePort();
    fs::create_directories(dir + "/www");
    fs::create_directories(dir + "/tmp");
    std::ofstream(dir + "/www/status.json") << body_;
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
    const std::string conf = dir + "/nginx.conf";
    std::ofstream(conf) <<
        "worker_processes auto;\n"  // one per core
        "daemon off;\n"
        "pid " << dir << "/nginx.pid;\n"
        "error_log " << dir << "/error.log;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "  access_log off;\n"
        "  keepalive_requests 100000000;\n"
        "  keepalive_timeout 300s;\n"
        "  client_body_temp_path " << dir << "/tmp/body;\n"
        "  proxy_temp_path " << dir << "/tmp/proxy;\n"
        "  fastcgi_temp_path " << dir << "/tmp/fastcgi;\n"
        "  uwsgi_temp_path " << dir << "/tmp/uwsgi;\n"
        "  scgi_temp_path " << dir << "/tmp/scgi;\n"
        "  server {\n"
        "    listen 127.0.0.1:" << port_ << ";\n"
        "    location / { root " << dir << "/www; default_type application/json; }\n"
        "  }\n"
        "}\n";
    const std::string log = dir + "/nginx.out";
    pid_ = Spawn({"nginx", "-p", dir, "-c", conf, "-e", dir + "/error.log"}, log);
    WaitForPort(port_, pid_, "nginx", log);
  }
  void Stop() override {
    if (pid_ > 0) Terminate(pid_, SIGQUIT);  // graceful
    pid_ = 0;
  }
  std::unique_ptr<Connection> Connect() override {
    return std::make_unique<HttpConnection>(name(), port_, "", "/status.json");
  }
  std::vector<pid_t> processes() const override { return {pid_}; }
  ReadBack ReadEverything() override { return {}; }

 private:
  std::string body_;
  pid_t pid_ = 0;
  uint16_t port_ = 0;
};

// --- raw RocksDB ------------------------------------------------------------------------

class RawConnection : public Connection {
 public:
  explicit RawConnection(rocksdb::DB* db) : db_(db) { wo_.sync = true; }
  bool Ingest(const Batch& batch) override {
    rocksdb::WriteBatch wb;
    for (const JsonEvent& e : batch.events) wb.Put(e.event_id, e.json).PermitUncheckedError();
    const rocksdb::Status s = db_->Write(wo_, &wb);
    if (!s.ok()) Complain("rocksdb", s.ToString());
    return s.ok();
  }
  bool ReadStatus(const std::string&) override { return false; }

 private:
  rocksdb::DB* db_;
  rocksdb::WriteOptions wo_;
};

class RawRocksDb : public System {
 public:
  std::string name() const override { return "rocksdb"; }
  bool serves_status() const override { return false; }
  void Start(const std::string& dir) override {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    const rocksdb::Status s = rocksdb::DB::Open(options, dir + "/raw", &db);
    if (!s.ok()) throw std::runtime_error("rocksdb: " + s.ToString());
    db_.reset(db);
  }
  void Stop() override { db_.reset(); }
  std::unique_ptr<Connection> Connect() override { return std::make_unique<RawConnection>(db_.get()); }
  std::vector<pid_t> processes() const override { return {}; }
  ReadBack ReadEverything() override {
    const auto t0 = Clock::now();
    ReadBack r;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++r.events;
    r.seconds = Since(t0);
    r.how = "iterator over every key";
    return r;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

Batch MakeBatch(std::vector<JsonEvent> events) {
  Batch b;
  b.body = EventsBody(events);
  b.events = std::move(events);
  return b;
}

std::unique_ptr<JobstateSystem> MakeJobstate(const Paths& paths) {
  return std::make_unique<Jobstate>(paths);
}
std::unique_ptr<System> MakePostgres() { return std::make_unique<Postgres>(); }
std::unique_ptr<System> MakeRedis() { return std::make_unique<Redis>(); }
std::unique_ptr<System> MakeNginx(std::string body) { return std::make_unique<Nginx>(std::move(body)); }
std::unique_ptr<System> MakeRawRocksDb() { return std::make_unique<RawRocksDb>(); }

uint64_t PssBytes(const std::vector<pid_t>& roots) {
  // Parent of every process, then the tree under the roots.
  std::multimap<pid_t, pid_t> children;
  if (DIR* proc = opendir("/proc")) {
    while (dirent* d = readdir(proc)) {
      const pid_t pid = static_cast<pid_t>(std::atoi(d->d_name));
      if (pid <= 0) continue;
      std::ifstream stat("/proc/" + std::string(d->d_name) + "/stat");
      std::string line;
      std::getline(stat, line);
      const size_t close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 2));
      char state;
      pid_t ppid = 0;
      rest >> state >> ppid;
      children.emplace(ppid, pid);
    }
    closedir(proc);
  }
  std::set<pid_t> tree;
  std::vector<pid_t> todo;
  for (pid_t r : roots) {
    if (r > 0) todo.push_back(r);
  }
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    if (!tree.insert(p).second) continue;
    auto [lo, hi] = children.equal_range(p);
    for (auto it = lo; it != hi; ++it) todo.push_back(it->second);
  }
  uint64_t kib = 0;
  for (pid_t p : tree) {
    std::ifstream in("/proc/" + std::to_string(p) + "/smaps_rollup");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("Pss:", 0) == 0) {
        kib += std::stoull(line.substr(4));
        break;
      }
    }
  }
  return kib * 1024;
}

}  // namespace jobstate::bench::compare
