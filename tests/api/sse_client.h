#pragma once
// A Server-Sent Events client for tests: opens GET `target` on a loopback connection,
// then reads the chunked stream as it arrives, splitting it into events (and comment
// lines), each stamped with the time it was received.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace jobstate::testing {

struct SseEvent {
  std::string event, id, data;
  bool comment = false;  // a ":" line (keep-alive)
  std::chrono::steady_clock::time_point received;
};

class SseClient {
 public:
  using Clock = std::chrono::steady_clock;

  SseClient(uint16_t port, const std::string& target, const std::string& key,
            const std::map<std::string, std::string>& headers = {}) {
    namespace http = boost::beast::http;
    stream_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + key);
    req.set(http::field::accept, "text/event-stream");
    for (const auto& [name, value] : headers) req.set(name, value);
    stream_.expires_after(std::chrono::seconds(10));
    http::write(stream_, req);
    parser_.body_limit(boost::none);
    on_chunk_ = [this](std::uint64_t, boost::beast::string_view body, boost::beast::error_code&) {
      text_.append(body.data(), body.size());
      Split();
      return body.size();
    };
    parser_.on_chunk_body(on_chunk_);  // the parser keeps a reference
    http::read_header(stream_, buffer_, parser_);
    status = static_cast<int>(parser_.get().result_int());
    content_type = std::string(parser_.get()[http::field::content_type]);
    if (parser_.get()[http::field::transfer_encoding].empty()) ended_ = true;  // not a stream
  }

  // Reads until `done(events)` holds, the stream ends, or `timeout` passes. True when
  // `done` holds. A timeout closes the connection (Beast's tcp_stream does): the
  // client is done with the stream then.
  bool ReadUntil(const std::function<bool(const std::vector<SseEvent>&)>& done,
                 std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done(events) && !ended_) {
      const auto left = deadline - Clock::now();
      if (left <= Clock::duration::zero()) return false;
      stream_.expires_after(left);
      boost::beast::error_code ec;
      boost::beast::http::read_some(stream_, buffer_, parser_, ec);
      if (ec) {
        ended_ = true;
        break;
      }
      if (parser_.is_done()) ended_ = true;
    }
    return done(events);
  }
  // Reads until the server ends the stream; true if it did within `timeout`.
  bool ReadToEnd(std::chrono::milliseconds timeout) {
    ReadUntil([](const auto&) { return false; }, timeout);
    return ended_;
  }
  size_t count_status() const {
    size_t n = 0;
    for (const auto& e : events) n += e.comment ? 0 : 1;
    return n;
  }
  bool ended() const { return ended_; }

  int status = 0;
  std::string content_type;
  std::vector<SseEvent> events;

 private:
  void Split() {
    for (size_t end; (end = text_.find("\n\n")) != std::string::npos;) {
      SseEvent e;
      e.received = Clock::now();
      size_t start = 0;
      const std::string block = text_.substr(0, end + 1);
      text_.erase(0, end + 2);
      while (start < block.size()) {
        const size_t nl = block.find('\n', start);
        const std::string line = block.substr(start, nl - start);
        start = nl + 1;
        if (line.starts_with(":")) e.comment = true;
        if (line.starts_with("event: ")) e.event = line.substr(7);
        if (line.starts_with("id: ")) e.id = line.substr(4);
        if (line.starts_with("data: ")) e.data = line.substr(6);
      }
      events.push_back(std::move(e));
    }
  }

  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_{ioc_};
  boost::beast::flat_buffer buffer_;
  boost::beast::http::response_parser<boost::beast::http::empty_body> parser_;
  std::function<std::size_t(std::uint64_t, boost::beast::string_view, boost::beast::error_code&)>
      on_chunk_;
  std::string text_;
  bool ended_ = false;
};

}  // namespace jobstate::testing
