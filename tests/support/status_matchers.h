#pragma once
// Matchers for Status and Result<T> (after Abseil's status_matchers.h). There is no
// "not ok" matcher: assert the specific code and reason.

#include <gmock/gmock.h>

#include "engine/status.h"

namespace jobstate::testing {

inline const Status& GetStatus(const Status& s) { return s; }
template <class T>
Status GetStatus(const Result<T>& r) {
  return r.has_value() ? Status::OK() : r.error();
}

MATCHER(IsOk, "is OK") {
  const Status s = GetStatus(arg);
  *result_listener << s.ToString();
  return s.ok();
}

// The code and the stable reason ("invalid_transition", ...).
MATCHER_P2(StatusIs, code, reason,
           std::string("has code ") + std::string(StatusCodeName(code)) + " and reason " +
               std::string(reason)) {
  const Status s = GetStatus(arg);
  *result_listener << s.ToString();
  return s.code() == code && s.details().reason == reason;
}

}  // namespace jobstate::testing
