#include "api/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace jobstate::api {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

// One client connection. `stopping` and `busy` are touched only on the connection's
// executor (the coroutine and the lambdas Shutdown posts to it), which runs one handler
// at a time (a worker's thread, or a strand of `ioc`), so they need no lock.
struct Server::Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  bool stopping = false;
  bool busy = false;  // between reading a request and writing its answer
};

Server::Server(net::io_context& ioc, Service& service, ServerOptions options,
               std::vector<net::io_context*> workers)
    : ioc_(ioc),
      workers_(std::move(workers)),
      service_(service),
      options_(options),
      acceptor_(net::make_strand(ioc)) {}

Server::~Server() = default;

Result<uint16_t> Server::Listen(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) return Err(Status::InvalidArgument("invalid_listen", "not an IP address: " + host));
  const tcp::endpoint endpoint(address, port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return Err(Status::Unavailable("listen on " + host + ":" + std::to_string(port) + ": " +
                                   ec.message()));
  }
  return acceptor_.local_endpoint().port();
}

void Server::Start() { net::co_spawn(acceptor_.get_executor(), Accept(), net::detached); }

void Server::Shutdown() {
  std::set<std::shared_ptr<Connection>> conns;
  {
    std::scoped_lock lock(mu_);
    stopping_ = true;
    conns = connections_;
  }
  net::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  for (const auto& c : conns) {
    net::post(c->stream.get_executor(), [c] {
      c->stopping = true;
      if (!c->busy) c->stream.cancel();  // an idle read ends; a request in flight finishes
    });
  }
}

size_t Server::open_connections() const {
  std::scoped_lock lock(mu_);
  return connections_.size();
}

net::awaitable<void> Server::Accept() {
  for (;;) {
    // A worker's one thread serializes its connections; `ioc` may have several.
    net::any_io_executor home;
    if (workers_.empty()) {
      home = net::make_strand(ioc_);
    } else {
      home = workers_[next_worker_++ % workers_.size()]->get_executor();
    }
    auto [ec, socket] = co_await acceptor_.async_accept(home, kTuple);
    if (ec) {
      if (!acceptor_.is_open() || ec == net::error::operation_aborted) co_return;
      // Out of descriptors or the like: back off instead of spinning.
      net::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket));
    bool over = false;
    {
      std::scoped_lock lock(mu_);
      if (stopping_) co_return;
      over = connections_.size() >= options_.max_connections;
      if (!over) connections_.insert(conn);
    }
    net::co_spawn(conn->stream.get_executor(), over ? Refuse(conn) : Serve(conn), net::detached);
  }
}

namespace {

// The answer's bytes in one string, through Beast's serializer. Written by
// http::async_write, the answer goes out through layers of buffer-sequence views that
// the serializer rebuilds at every write (13% of a cached status read's server
// samples); copied out once, the socket gets one contiguous buffer.
void Flatten(Response& res, std::string& wire) {
  wire.clear();
  http::response_serializer<http::string_body> sr(res);
  beast::error_code ec;
  while (!sr.is_done()) {
    sr.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (const net::const_buffer b : beast::buffers_range_ref(buffers)) {
        wire.append(static_cast<const char*>(b.data()), b.size());
      }
      sr.consume(beast::buffer_bytes(buffers));
    });
    if (ec) throw beast::system_error(ec);  // a string body cannot fail
  }
}

}  // namespace

net::awaitable<boost::system::error_code> Server::WriteStream(Connection& c, Response& head,
                                                             BodyStream& body) {
  head.chunked(true);
  http::response_serializer<http::string_body> sr(head);
  auto [ec, n] = co_await http::async_write_header(c.stream, sr, kTuple);
  if (ec) co_return ec;
  // Each piece is one chunk, written when the stream yields it: the connection's
  // coroutine is idle in between, costing no thread.
  while (auto piece = co_await body.Next()) {
    c.stream.expires_after(options_.read_timeout);
    std::tie(ec, n) = co_await net::async_write(
        c.stream, http::make_chunk(net::buffer(*piece)), kTuple);
    if (ec) co_return ec;
  }
  c.stream.expires_after(options_.read_timeout);
  std::tie(ec, n) = co_await net::async_write(c.stream, http::make_chunk_last(), kTuple);
  co_return ec;
}

net::awaitable<void> Server::Refuse(std::shared_ptr<Connection> c) {
  Response res = service_.Reject(
      http::status::service_unavailable, "too_many_connections",
      "the server holds " + std::to_string(options_.max_connections) +
          " connections, its limit; retry later or reuse a kept-alive connection", 11);
  res.keep_alive(false);
  c->stream.expires_after(options_.read_timeout);
  co_await http::async_write(c->stream, res, kTuple);
  boost::system::error_code ignored;
  c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  c->stream.close();
}

net::awaitable<void> Server::Serve(std::shared_ptr<Connection> c) {
  beast::flat_buffer buffer;
  std::string wire;  // an answer's bytes; its capacity is kept for the next
  for (;;) {
    if (c->stopping) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    parser.body_limit(options_.max_body_bytes);
    // A pipelined request may already be buffered; otherwise the connection is idle.
    c->stream.expires_after(buffer.size() > 0 ? options_.read_timeout : options_.idle_timeout);
    auto [ec, n] = co_await http::async_read(c->stream, buffer, parser, kTuple);
    if (ec) {
      // Malformed or oversize requests get an answer before the connection closes;
      // a closed, timed-out or cancelled connection just ends.
      std::optional<Response> res;
      if (ec == http::error::body_limit) {
        res = service_.Reject(http::status::payload_too_large, "body_too_large",
                              "the body exceeds " + std::to_string(options_.max_body_bytes) +
                                  " bytes", 11);
      } else if (ec == http::error::header_limit) {
        res = service_.Reject(http::status::request_header_fields_too_large, "headers_too_large",
                              "the headers exceed " + std::to_string(options_.max_header_bytes) +
                                  " bytes", 11);
      } else if (ec.category() == make_error_code(http::error::body_limit).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        res = service_.Reject(http::status::bad_request, "malformed_request",
                              "the request is not valid HTTP/1.1: " + ec.message(), 11);
      }
      if (res) {
        res->keep_alive(false);
        c->stream.expires_after(options_.read_timeout);
        co_await http::async_write(c->stream, *res, kTuple);
      }
      break;
    }
    c->busy = true;
    const bool head = parser.get().method() == http::verb::head;
    Reply reply = co_await service_.Handle(parser.release());
    Response& res = reply.res;
    const bool keep = res.keep_alive() && !c->stopping;
    res.keep_alive(keep);
    c->stream.expires_after(options_.read_timeout);
    boost::system::error_code wec;
    if (reply.stream && !head) {
      wec = co_await WriteStream(*c, res, *reply.stream);
    } else {
      // The answer to HEAD is the answer to GET cut after its header block, so its
      // Content-Length (or Transfer-Encoding) is the one GET would send.
      if (reply.stream) res.chunked(true);
      Flatten(res, wire);
      if (head) wire.resize(wire.find("\r\n\r\n") + 4);
      std::tie(wec, std::ignore) =
          co_await net::async_write(c->stream, net::buffer(wire), kTuple);
    }
    c->busy = false;
    if (wec || !keep) break;
  }
  boost::system::error_code ignored;
  c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  c->stream.close();
  std::scoped_lock lock(mu_);
  connections_.erase(c);
}

}  // namespace jobstate::api
