#pragma once
// Wall-clock helpers shared by the benchmarks.
#include <algorithm>
#include <chrono>
#include <vector>

namespace repflow {

using BenchClock = std::chrono::steady_clock;

inline double ms_since(BenchClock::time_point t) {
  return std::chrono::duration<double, std::milli>(BenchClock::now() - t).count();
}

// The median of repeated timings: robust to the odd run slowed by another process.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace repflow
