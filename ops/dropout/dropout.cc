#include "ops/dropout/dropout.h"

#include "framework/autograd.h"
#include "ops/dispatch.h"
#include "ops/dropout/dropout_kernels.h"
#include "ops/op_common.h"

namespace repflow::ops {

namespace {

// The dropout schedules by device (ops/dispatch.h).
const DispatchStub<void(const float*, float*, int64_t, const DropoutParams&)> dropout_stub{
    "dropout", dropout_cpu, RF_CUDA_SCHEDULE(dropout_cuda)};

}  // namespace
namespace {

// The mask is indexed by row-major position, so a strided input is packed first.
Tensor apply_mask(const Tensor& x, const DropoutParams& d) {
  const Tensor xc = x.detach().contiguous();
  Tensor y = Tensor::empty(x.shape(), x.device());
  dropout_stub(x.device(), xc.data(), y.data(), y.numel(), d);
  return y;
}

}  // namespace

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
  RF_CHECK(p >= 0.0f && p <= 1.0f, "dropout: probability ", p, " is outside [0, 1]");
  if (!training || p == 0.0f) return x;
  const DropoutParams d{p, p < 1.0f ? 1.0f / (1.0f - p) : 0.0f, gen.seed(), gen.next_offset()};
  return record("dropout", apply_mask(x, d), {x}, [d](const Tensor& g, const GradMask&) {
    return std::vector<Tensor>{apply_mask(g, d)};
  });
}

}  // namespace repflow::ops
