#include "api/problem.h"

#include <boost/json.hpp>

#include "api/json_write.h"

namespace jobstate::api {

namespace json = boost::json;

http::status HttpStatusOf(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return http::status::ok;
    case StatusCode::kInvalidArgument: return http::status::bad_request;
    case StatusCode::kNotFound: return http::status::not_found;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
    case StatusCode::kFailedPrecondition: return http::status::conflict;
    case StatusCode::kResourceExhausted: return http::status::too_many_requests;
    case StatusCode::kUnavailable: return http::status::service_unavailable;
    case StatusCode::kCorruption:
    case StatusCode::kInternal: return http::status::internal_server_error;
  }
  return http::status::internal_server_error;
}

namespace {

Response Render(http::status status, json::object body, unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, "application/problem+json");
  res.set(http::field::cache_control, "no-store");
  if (status == http::status::too_many_requests) res.set(http::field::retry_after, "1");
  if (status == http::status::service_unavailable) res.set(http::field::retry_after, "5");
  res.body() = WriteJson(body);
  res.prepare_payload();
  return res;
}

json::object Base(http::status status, const std::string& code, const std::string& detail,
                  const std::string& request_id) {
  return json::object{{"type", "/problems/" + code},
                      {"title", std::string(http::obsolete_reason(status))},
                      {"status", static_cast<int>(status)},
                      {"detail", detail},
                      {"code", code},
                      {"request_id", request_id}};
}

}  // namespace

Response MakeProblem(http::status status, std::string code, std::string detail,
                     unsigned version, const std::string& request_id) {
  return Render(status, Base(status, code, detail, request_id), version);
}

Response MakeProblem(const Status& s, unsigned version, const std::string& request_id) {
  const http::status status = HttpStatusOf(s);
  const ErrorDetails& d = s.details();
  std::string code = d.reason.empty() ? "error" : d.reason;
  std::string detail = s.message();
  if (status == http::status::internal_server_error) {
    // Storage faults are reported, but their internals stay in the server's log.
    code = s.code() == StatusCode::kCorruption ? "storage_corruption" : "internal_error";
    detail = "the server could not complete the request; see its log for request " + request_id;
  }
  json::object body = Base(status, code, detail, request_id);
  if (!d.pointer.empty()) body["pointer"] = d.pointer;
  if (d.event_index) body["event_index"] = *d.event_index;
  if (d.current_version) body["current_version"] = *d.current_version;
  if (!d.job_status.empty()) body["job_status"] = d.job_status;
  if (!d.from_state.empty()) body["from"] = d.from_state;
  if (!d.to_state.empty()) body["to"] = d.to_state;
  return Render(status, std::move(body), version);
}

std::string ProblemCode(std::string_view body) {
  boost::system::error_code ec;
  json::value problem = json::parse(body, ec);
  if (ec || !problem.is_object()) return "";
  const json::value* code = problem.as_object().if_contains("code");
  return code && code->is_string() ? std::string(code->as_string()) : "";
}

}  // namespace jobstate::api
