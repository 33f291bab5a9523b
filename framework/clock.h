#pragma once
// Wall time for progress lines, timeouts and run summaries, on the steady clock, which setting
// the system clock does not move.
#include <chrono>

namespace repflow {

using SteadyClock = std::chrono::steady_clock;

inline double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// Seconds from an arbitrary origin: only differences of two readings mean anything.
inline double steady_seconds() {
  return std::chrono::duration<double>(SteadyClock::now().time_since_epoch()).count();
}

}  // namespace repflow
