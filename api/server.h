#pragma once
// Server: HTTP/1.1 over TCP for a Service (Beast, one coroutine per connection, on a
// worker's io_context or on its own strand). Keep-alive and pipelining (requests on a
// connection are answered in order), a read timeout per request, header and body
// limits, and a graceful shutdown: stop accepting, let every request in flight
// finish, close idle connections.
//
// Thread safety: Listen and Start before the io_context runs; Shutdown from any thread.

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "api/service.h"
#include "engine/status.h"

namespace jobstate::api {

struct ServerOptions {
  size_t max_body_bytes = 16 << 20;                   // Default: 16 MiB
  size_t max_header_bytes = 16 << 10;                 // Default: 16 KiB
  std::chrono::seconds read_timeout{30};              // Default: a request must arrive in 30 s
  std::chrono::seconds idle_timeout{75};              // Default: keep-alive connections idle 75 s
  // Open connections allowed; one more is answered 503 (with Retry-After) and closed,
  // so a flood of clients cannot exhaust descriptors or memory.
  size_t max_connections = 10'000;                    // Default: 10,000
};

class Server {
 public:
  // Accepts on `ioc`. Connections run on `workers` in turn (one io_context per thread,
  // so a request never changes threads), or on `ioc` when there are none. Each worker
  // must be run by exactly one thread: its connections take no strand (whose executor
  // costs a reference count at every copy), the thread alone keeps their handlers apart.
  Server(boost::asio::io_context& ioc, Service& service, ServerOptions options,
         std::vector<boost::asio::io_context*> workers = {});
  ~Server();

  // Binds and listens. Returns the bound port (useful with port 0). Unavailable when
  // the address is taken or invalid.
  Result<uint16_t> Listen(const std::string& host, uint16_t port);
  // Starts accepting (on the io_context's threads).
  void Start();
  // Stops accepting and closes idle connections; connections finish the request they
  // are answering and then close. The io_context runs out of work once all are done.
  void Shutdown();

  size_t open_connections() const;

 private:
  struct Connection;
  boost::asio::awaitable<void> Accept();
  boost::asio::awaitable<void> Serve(std::shared_ptr<Connection> conn);
  // Answers 503 too_many_connections on a connection over the limit, then closes it.
  boost::asio::awaitable<void> Refuse(std::shared_ptr<Connection> conn);
  // Writes a streamed reply: the head, then each piece as a chunk, then the last chunk.
  boost::asio::awaitable<boost::system::error_code> WriteStream(Connection& c, Response& head,
                                                                BodyStream& body);

  boost::asio::io_context& ioc_;
  const std::vector<boost::asio::io_context*> workers_;
  size_t next_worker_ = 0;  // touched only by Accept, on the acceptor's strand
  Service& service_;
  const ServerOptions options_;
  boost::asio::ip::tcp::acceptor acceptor_;

  mutable std::mutex mu_;
  std::set<std::shared_ptr<Connection>> connections_;  // Guarded by mu_
  bool stopping_ = false;                              // Guarded by mu_
};

}  // namespace jobstate::api
