#pragma once
// The HTTP message types the API layer speaks.

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>

namespace jobstate::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A response body produced over time (Server-Sent Events), sent in chunks after the
// head.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // The next piece of the body, or nullopt once the body is complete.
  virtual boost::asio::awaitable<std::optional<std::string>> Next() = 0;
};

// What the Service answers: a whole response, or the head of one whose body streams.
struct Reply {
  Reply() = default;
  Reply(Response r) : res(std::move(r)) {}  // NOLINT: a plain response is a reply
  Reply(Response head, std::unique_ptr<BodyStream> body)
      : res(std::move(head)), stream(std::move(body)) {}
  Response res;
  std::unique_ptr<BodyStream> stream;  // null unless streamed
};

}  // namespace jobstate::api
