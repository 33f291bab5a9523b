#pragma once
// The arithmetic of the reductions, shared by the CPU and CUDA schedules: each reduction is an
// identity, an associative combine and a finish applied to the combined value. The schedules
// only choose the order of the combines.
#include <cmath>
#include <cstdint>

#include "framework/hostdev.h"

namespace repflow::ops {

enum class ReduceKind { kSum, kMean, kMax, kMin };

struct SumReduce {
  static RF_HD float identity() { return 0.0f; }
  static RF_HD float combine(float a, float b) { return a + b; }
  static RF_HD float finish(float acc, int64_t /*count*/) { return acc; }
};

struct MeanReduce : SumReduce {
  // An empty extent gives 0 / 0 = NaN, as in PyTorch.
  static RF_HD float finish(float acc, int64_t count) { return acc / static_cast<float>(count); }
};

// A NaN anywhere in the extent wins (a != a only for NaN), so it reaches the result as in
// PyTorch instead of being skipped by the comparison. `|` rather than `||` keeps the combine
// branch-free, which lets compilers vectorise it.
struct MaxReduce {
  static RF_HD float identity() { return -INFINITY; }
  static RF_HD float combine(float a, float b) { return ((a > b) | (a != a)) ? a : b; }
  static RF_HD float finish(float acc, int64_t /*count*/) { return acc; }
};

struct MinReduce {
  static RF_HD float identity() { return INFINITY; }
  static RF_HD float combine(float a, float b) { return ((a < b) | (a != a)) ? a : b; }
  static RF_HD float finish(float acc, int64_t /*count*/) { return acc; }
};

// Calls fn with the functor of `kind`, so that each schedule is written once as a template.
template <class Fn>
void dispatch_reduce(ReduceKind kind, Fn&& fn) {
  switch (kind) {
    case ReduceKind::kSum:
      fn(SumReduce{});
      return;
    case ReduceKind::kMean:
      fn(MeanReduce{});
      return;
    case ReduceKind::kMax:
      fn(MaxReduce{});
      return;
    case ReduceKind::kMin:
      fn(MinReduce{});
      return;
  }
}

}  // namespace repflow::ops
