#pragma once
// A small synchronous HTTP/1.1 client for tests, over a real loopback socket.

#include <chrono>
#include <map>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace jobstate::testing {

namespace http = boost::beast::http;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  boost::json::value json() const { return boost::json::parse(body); }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class HttpClient {
 public:
  explicit HttpClient(uint16_t port);

  // One request on the kept-alive connection (reconnecting if the server closed it);
  // status 0 when the server cannot be reached.
  Reply Send(http::verb method, const std::string& target, const std::string& key = "",
             const std::string& body = "", const std::string& content_type = "application/json",
             const std::map<std::string, std::string>& headers = {});
  Reply Get(const std::string& target, const std::string& key) {
    return Send(http::verb::get, target, key);
  }
  Reply Post(const std::string& target, const std::string& key, const std::string& body) {
    return Send(http::verb::post, target, key, body);
  }

  // Writes raw bytes on a fresh connection and reads every response until the server
  // closes the connection or `timeout` passes.
  static std::vector<Reply> Raw(uint16_t port, const std::string& bytes,
                                std::chrono::milliseconds timeout = std::chrono::seconds(5));

 private:
  bool Connect();
  uint16_t port_;
  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_{ioc_};
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
};

}  // namespace jobstate::testing
