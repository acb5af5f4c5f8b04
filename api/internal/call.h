#pragma once
// One request in flight inside Service, and the helpers its handlers share.

#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "api/auth.h"
#include "api/http_types.h"
#include "api/service.h"
#include "engine/status.h"
#include "engine/types.h"

namespace jobstate::api {

struct Service::Call {
  Request req;
  std::string request_id;
  Principal principal;
  std::vector<std::string> segments;         // decoded path segments
  std::map<std::string, std::string> query;  // decoded parameters (the last one wins)
  const char* route = "unrouted";            // the route's template, for metrics

  const std::string* Param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  }
};

namespace internal {

// A JSON response with the status given.
Response Json(const Service::Call& call, http::status status, const boost::json::value& body);
// The same with a body already written (by a JsonWriter).
Response JsonText(const Service::Call& call, http::status status, std::string body);

// 400 invalid_parameter naming the parameter.
Status InvalidParameter(const std::string& name, const std::string& what);

// An integer query parameter clamped to [lo, hi]; `fallback` when absent; 400 when it
// is not an integer.
Result<int64_t> IntParam(const Service::Call& call, const std::string& name, int64_t fallback,
                         int64_t lo, int64_t hi);

// A comma-separated list of names parsed by `parse`, sorted and unique; `canonical`
// receives its normalized text (for cursors and `status_filter`).
template <class E>
Result<std::vector<E>> ListParam(const Service::Call& call, const std::string& name,
                                 std::optional<E> (*parse)(std::string_view),
                                 std::string& canonical);

// An optional JSON object body whose members, all named in `allowed`, are strings or
// null: the strings given (nulls left out). 400 invalid_json when it is not an object,
// unknown_field for a member not allowed, invalid_parameter for a member not a string.
Result<std::map<std::string, std::string>> StringMembersBody(
    const Service::Call& call, std::initializer_list<std::string_view> allowed);

// The media type of the request's Content-Type, lower-case, without parameters.
std::string MediaType(const Request& req);

// Whether the request's If-None-Match names `etag` (a strong tag, such as "\"7\""), as
// RFC 9110 (13.1.2) reads it: any tag of the list in any of the header's lines, compared
// weakly (W/"7" names "7" too), or "*" (the resource exists). A value that is not a list
// of entity tags names nothing, so the request is answered in full.
bool IfNoneMatchNames(const Request& req, std::string_view etag);

// The version that the first entity tag of If-None-Match names ("7" or W/"7"), as a
// hint that the client holds that version already; nullopt when the first tag is no
// version. Only IfNoneMatchNames decides whether the answer is 304.
std::optional<uint64_t> IfNoneMatchVersion(const Request& req);

}  // namespace internal
}  // namespace jobstate::api
