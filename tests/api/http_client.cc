#include "tests/api/http_client.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>

namespace jobstate::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

// When JOBSTATE_RESPONSE_SAMPLES names a folder, every response is written there so
// that tools/openapi/validate.mjs can check it against docs/openapi.yaml.
void Record(http::verb method, const std::string& target, const Reply& r) {
  static const char* dir = std::getenv("JOBSTATE_RESPONSE_SAMPLES");
  static std::atomic<uint64_t> n{0};
  if (!dir || !*dir) return;
  boost::json::object sample{{"method", std::string(http::to_string(method))},
                             {"target", target},
                             {"status", r.status},
                             {"content_type", r.header("content-type")},
                             {"body", r.body}};
  const std::string path = std::string(dir) + "/" + std::to_string(::getpid()) + "-" +
                           std::to_string(n++) + ".json";
  std::ofstream(path) << boost::json::serialize(sample);
}

Reply ToReply(const http::response<http::string_body>& res) {
  Reply r;
  r.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = std::string(f.value());
  }
  r.body = res.body();
  return r;
}

}  // namespace

HttpClient::HttpClient(uint16_t port) : port_(port) {}

bool HttpClient::Connect() {
  stream_.close();
  buffer_.clear();
  beast::error_code ec;
  stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  connected_ = !ec;
  return connected_;
}

Reply HttpClient::Send(http::verb method, const std::string& target, const std::string& key,
                       const std::string& body, const std::string& content_type,
                       const std::map<std::string, std::string>& headers) {
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!key.empty()) req.set(http::field::authorization, "Bearer " + key);
  if (!body.empty() || method == http::verb::post) {
    req.set(http::field::content_type, content_type);
    req.body() = body;
  }
  for (const auto& [k, v] : headers) req.set(k, v);
  req.prepare_payload();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!connected_ && !Connect()) return Reply{};  // status 0: nobody listens
    beast::error_code ec;
    stream_.expires_after(std::chrono::seconds(30));
    http::write(stream_, req, ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    parser.skip(method == http::verb::head);  // its Content-Length is GET's, with no body
    if (!ec) http::read(stream_, buffer_, parser, ec);
    if (!ec) {
      if (!parser.get().keep_alive()) connected_ = false;
      Reply reply = ToReply(parser.get());
      Record(method, target, reply);
      return reply;
    }
    connected_ = false;  // the server closed a kept-alive connection: retry once
  }
  return Reply{};
}

std::vector<Reply> HttpClient::Raw(uint16_t port, const std::string& bytes,
                                   std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {};
  stream.expires_after(timeout);
  net::write(stream, net::buffer(bytes), ec);
  std::vector<Reply> replies;
  beast::flat_buffer buffer;
  while (!ec) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream, buffer, parser, ec);
    if (!ec) replies.push_back(ToReply(parser.get()));
  }
  return replies;
}

}  // namespace jobstate::testing
