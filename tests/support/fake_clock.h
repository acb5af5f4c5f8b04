#pragma once
// A Clock the test sets. Safe for concurrent use.

#include <atomic>

#include "engine/clock.h"

namespace jobstate::testing {

class FakeClock final : public engine::Clock {
 public:
  explicit FakeClock(engine::Millis now) : now_(now) {}
  engine::Millis NowMillis() const override { return now_.load(); }
  void Set(engine::Millis now) { now_.store(now); }
  void Advance(engine::Millis by) { now_.fetch_add(by); }

 private:
  std::atomic<engine::Millis> now_;
};

}  // namespace jobstate::testing
