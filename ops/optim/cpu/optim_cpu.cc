#include "framework/parallel.h"
#include "ops/optim/optim_kernels.h"

namespace repflow::ops {

// One chunk per iteration of the parallel loop: a chunk is already tens of thousands of
// elements.
void sgd_step_cpu(const SgdTensor* tensors, int64_t /*tensor_count*/, const TensorChunk* chunks,
                  int64_t chunk_count, const SgdHyper& hyper) {
  parallel_for(0, chunk_count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const SgdTensor& t = tensors[chunks[c].tensor];
      for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) sgd_element(t, hyper, i);
    }
  });
}

void lerp_cpu(const LerpTensor* tensors, int64_t /*tensor_count*/, const TensorChunk* chunks,
              int64_t chunk_count, LerpRate rate_source) {
  const float rate = rate_source.get();
  parallel_for(0, chunk_count, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const LerpTensor& t = tensors[chunks[c].tensor];
      for (int64_t i = chunks[c].begin; i < chunks[c].end; ++i) lerp_element(t, rate, i);
    }
  });
}

}  // namespace repflow::ops
