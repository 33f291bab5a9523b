#include "ops/batch_norm.h"

#include "framework/autograd.h"
#include "ops/batch_norm_kernels.h"
#include "ops/op_common.h"

namespace repflow::ops {
namespace {

void check_channel_tensor(const char* name, const Tensor& t, const Tensor& x) {
  RF_CHECK(!t.defined() || (t.dim() == 1 && t.size(0) == x.size(1)), "batch_norm: ", name,
           " of shape ", shape_str(t.shape()), " does not match the ", x.size(1),
           " channels of input ", shape_str(x.shape()));
}

Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); }

void run_forward(const BatchNormForward& a) {
  if (a.x.device().is_cuda()) {
    RF_CUDA_CALL(batch_norm_forward_cuda(a));
  } else {
    batch_norm_forward_cpu(a);
  }
}

// The kernels update contiguous running statistics in place; a strided view (a slice of a
// larger buffer) is updated through a contiguous copy written back afterwards.
void forward_with_running_stats(BatchNormForward a) {
  Tensor running_mean = a.running_mean, running_var = a.running_var;
  const bool copies =
      running_mean.defined() && !(running_mean.is_contiguous() && running_var.is_contiguous());
  if (copies) {
    a.running_mean = running_mean.clone();
    a.running_var = running_var.clone();
  }
  run_forward(a);
  if (copies && a.training) {
    running_mean.copy_(a.running_mean);
    running_var.copy_(a.running_var);
  }
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum, float eps) {
  RF_CHECK(x.dim() >= 2, "batch_norm: expected an input (N, C, *) of rank 2 or more, got ",
           shape_str(x.shape()));
  check_channel_tensor("weight", weight, x);
  check_channel_tensor("bias", bias, x);
  check_channel_tensor("running_mean", running_mean, x);
  check_channel_tensor("running_var", running_var, x);
  RF_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: running_mean and running_var must be both given or both undefined");
  RF_CHECK(training || running_mean.defined(),
           "batch_norm: eval mode (training false) needs running_mean and running_var");
  check_same_device("batch_norm", {x, weight, bias, running_mean, running_var});
  const int64_t per_channel = x.size(1) == 0 ? 0 : x.numel() / x.size(1);
  RF_CHECK(!training || per_channel > 1,
           "batch_norm: expected more than 1 value per channel when training, got input ",
           shape_str(x.shape()));
  RF_CHECK(eps >= 0.0f, "batch_norm: eps must not be negative, got ", eps);

  BatchNormForward a;
  a.x = x.contiguous();
  a.weight = contiguous_or_undefined(weight);
  a.bias = contiguous_or_undefined(bias);
  a.running_mean = running_mean;
  a.running_var = running_var;
  a.training = training;
  a.momentum = momentum;
  a.eps = eps;
  a.y = Tensor::empty(x.shape(), x.device());
  a.save_mean = Tensor::empty({x.size(1)}, x.device());
  a.save_invstd = Tensor::empty({x.size(1)}, x.device());
  {
    // The running statistics are buffers: their update is never part of the graph.
    NoGradGuard no_grad;
    forward_with_running_stats(a);
  }

  BatchNormBackward saved;
  saved.x = a.x.detach();
  saved.weight = a.weight.defined() ? a.weight.detach() : Tensor();
  saved.save_mean = a.save_mean;
  saved.save_invstd = a.save_invstd;
  saved.training = training;
  saved.eps = eps;
  return record("batch_norm", a.y, {a.x, a.weight, a.bias},
                [saved](const Tensor& g, const GradMask& needs) {
                  BatchNormBackward b = saved;
                  b.g = g.contiguous();
                  const Device device = g.device();
                  const int64_t channels = b.x.size(1);
                  if (needs[0]) b.gx = Tensor::empty(b.x.shape(), device);
                  if (needs[1]) b.gw = Tensor::empty({channels}, device);
                  if (needs[2]) b.gb = Tensor::empty({channels}, device);
                  if (device.is_cuda()) {
                    RF_CUDA_CALL(batch_norm_backward_cuda(b));
                  } else {
                    batch_norm_backward_cpu(b);
                  }
                  return std::vector<Tensor>{b.gx, b.gw, b.gb};
                });
}

}  // namespace repflow::ops
