#pragma once
// The arithmetic of softmax and log-softmax, shared by the CPU and CUDA schedules. A row is
// reduced twice: its maximum m, then s = sum exp(x - m) (every term at most 1, so large logits
// cannot overflow). The backward needs one row sum too: of g * y for softmax, of g for
// log-softmax.
#include <cmath>
#include <cstdint>

#include "framework/hostdev.h"

namespace repflow::ops {

// A softmax problem over a contiguous tensor seen as (outer, n, inner): the rows run along the
// middle dimension, element r of row (o, i) at o * n * inner + r * inner + i.
struct SoftmaxShape {
  int64_t outer;
  int64_t n;
  int64_t inner;
};

// The two terms softmax combines per row: the running maximum (NaN wins, as in the max
// reduction) and the sum of exp(x - max).
RF_HD float softmax_max(float acc, float x) { return ((acc > x) | (acc != acc)) ? acc : x; }
RF_HD float softmax_exp_term(float x, float max) { return expf(x - max); }

RF_HD float softmax_value(bool log, float x, float max, float sum) {
  return log ? x - max - logf(sum) : expf(x - max) / sum;
}

// The term summed over a row for the backward: g * y for softmax, g for log-softmax.
RF_HD float softmax_grad_term(bool log, float y, float g) { return log ? g : g * y; }

// softmax: y (g - sum(g y)); log-softmax: g - exp(y) sum(g).
RF_HD float softmax_grad(bool log, float y, float g, float sum) {
  return log ? g - expf(y) * sum : y * (g - sum);
}

}  // namespace repflow::ops
