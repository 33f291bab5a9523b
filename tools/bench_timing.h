#pragma once
// Wall-clock timing shared by the benchmarks (//tools:bench_*).
#include <algorithm>
#include <chrono>
#include <vector>

namespace repflow {

using Clock = std::chrono::steady_clock;

inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The median of the timed runs: robust to one run slowed by another process on shared cores.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace repflow
