#include "framework/parallel.h"
#include "ops/dropout/dropout_kernels.h"

namespace repflow::ops {

void dropout_cpu(const float* x, float* y, int64_t n, const DropoutParams& d) {
  // Philox costs about ten multiply rounds per element, so chunks can be fairly small.
  parallel_for(0, n, 1 << 13, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] = dropout_value(x[i], d, i);
  });
}

}  // namespace repflow::ops
