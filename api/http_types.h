#pragma once
// The HTTP message types the API layer speaks.

#include <boost/beast/http.hpp>

namespace jobstate::api {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

}  // namespace jobstate::api
