#pragma once
// RFC 9457 problem details: the one error body of the whole API.
//
//   {"type", "title", "status", "detail", "code", "request_id", ...specifics}
//
// Status codes: 400 InvalidArgument, 404 NotFound, 409 AlreadyExists / Aborted /
// FailedPrecondition, 429 ResourceExhausted (Retry-After), 503 Unavailable
// (Retry-After), 500 otherwise.

#include <string>
#include <string_view>

#include "api/http_types.h"
#include "engine/status.h"

namespace jobstate::api {

http::status HttpStatusOf(const Status& s);

// A problem response for `s` (which must not be OK).
Response MakeProblem(const Status& s, unsigned version, const std::string& request_id);
// A problem with an explicit HTTP status and code (401, 403, 405, 413, 415, 431, ...).
Response MakeProblem(http::status status, std::string code, std::string detail,
                     unsigned version, const std::string& request_id);

// The `code` member of a problem+json body, or "" when the body is not one.
std::string ProblemCode(std::string_view body);

}  // namespace jobstate::api
