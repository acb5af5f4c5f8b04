#pragma once
// Clock: the engine's only source of "now". Injected so that tests and time travel
// choose the instant; the fold itself never asks.
//
// Thread safety: implementations must be safe for concurrent use.

#include <chrono>

#include "engine/types.h"

namespace jobstate::engine {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch, UTC.
  virtual Millis NowMillis() const = 0;
};

// The system's real-time clock.
class SystemClock final : public Clock {
 public:
  Millis NowMillis() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

}  // namespace jobstate::engine
