#include "ops/batch_norm/batch_norm.h"

#include "framework/autograd.h"
#include "ops/batch_norm/batch_norm_kernels.h"
#include "ops/cat/cat.h"
#include "ops/dispatch.h"
#include "ops/elementwise/elementwise.h"
#include "ops/op_common.h"
#include "ops/reduce/reduce.h"

namespace repflow::ops {

namespace {

// The batch-norm schedules by device (ops/dispatch.h).
const DispatchStub<void(const BatchNormForward&)> forward_stub{
    "batch_norm", batch_norm_forward_cpu, RF_CUDA_SCHEDULE(batch_norm_forward_cuda)};
const DispatchStub<void(const BatchNormBackward&)> backward_stub{
    "batch_norm backward", batch_norm_backward_cpu, RF_CUDA_SCHEDULE(batch_norm_backward_cuda)};

}  // namespace
namespace {

void check_channel_tensor(const char* name, const Tensor& t, const Tensor& x) {
  RF_CHECK(!t.defined() || (t.dim() == 1 && t.size(0) == x.size(1)), "batch_norm: ", name,
           " of shape ", shape_str(t.shape()), " does not match the ", x.size(1),
           " channels of input ", shape_str(x.shape()));
}

Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); }

void run_forward(const BatchNormForward& a) { forward_stub(a.x.device(), a); }

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

void check_inputs(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training, float eps) {
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
  RF_CHECK(eps >= 0.0f, "batch_norm: eps must not be negative, got ", eps);
}

// What the backward of a forward run with `a` keeps: detached, so that no node owns its output.
BatchNormBackward saved_for_backward(const BatchNormForward& a) {
  BatchNormBackward saved;
  saved.x = a.x.detach();
  saved.weight = a.weight.defined() ? a.weight.detach() : Tensor();
  saved.save_mean = a.save_mean;
  saved.save_invstd = a.save_invstd;
  saved.training = a.training;
  saved.eps = a.eps;
  return saved;
}

void run_backward_kernel(const BatchNormBackward& b) { backward_stub(b.g.device(), b); }

// x (contiguous) seen as (N, C, S).
Tensor as_ncs(const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1);
  const Shape shape{n, c, n * c == 0 ? 0 : x.numel() / (n * c)};
  return x.detach().as_strided(shape, contiguous_strides(shape), x.offset());
}

// Part k of a contiguous vector made of channel-long parts.
Tensor channel_part(const Tensor& parts, int64_t channels, int64_t k) {
  return parts.as_strided({channels}, {1}, parts.offset() + k * channels);
}

// Per-channel sums of a (N, C, S) tensor.
Tensor channel_sums(const Tensor& ncs) { return sum(ncs, {0, 2}); }

Tensor per_channel_bcast(const Tensor& v) {
  return v.as_strided({1, v.size(0), 1}, {0, 1, 0}, v.offset());
}

}  // namespace

namespace {

// batch_norm; with the ReLU fused when `relu`, and the residual added before it when defined.
Tensor batch_norm_op(const char* name, const Tensor& x, const Tensor& residual,
                     const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                     const Tensor& running_var, bool training, float momentum, float eps,
                     bool relu) {
  check_inputs(x, weight, bias, running_mean, running_var, training, eps);
  const int64_t per_channel = x.size(1) == 0 ? 0 : x.numel() / x.size(1);
  RF_CHECK(!training || per_channel > 1, name,
           ": expected more than 1 value per channel when training, got input ",
           shape_str(x.shape()));
  if (residual.defined()) {
    RF_CHECK(residual.shape() == x.shape(), name, ": residual ", shape_str(residual.shape()),
             " does not match input ", shape_str(x.shape()));
    check_same_device(name, {x, residual});
  }

  BatchNormForward a;
  a.x = x.contiguous();
  a.weight = contiguous_or_undefined(weight);
  a.bias = contiguous_or_undefined(bias);
  a.running_mean = running_mean;
  a.running_var = running_var;
  a.training = training;
  a.momentum = momentum;
  a.eps = eps;
  a.relu = relu;
  a.residual = contiguous_or_undefined(residual);
  a.y = Tensor::empty(x.shape(), x.device());
  a.save_mean = Tensor::empty({x.size(1)}, x.device());
  a.save_invstd = Tensor::empty({x.size(1)}, x.device());
  {
    // The running statistics are buffers: their update is never part of the graph.
    NoGradGuard no_grad;
    forward_with_running_stats(a);
  }

  BatchNormBackward saved = saved_for_backward(a);
  if (relu) saved.y = a.y.detach();
  std::vector<Tensor> inputs{a.x, a.weight, a.bias};
  if (residual.defined()) inputs.push_back(a.residual);
  return record(name, a.y, inputs, [saved](const Tensor& g, const GradMask& needs) {
    BatchNormBackward b = saved;
    b.g = g.contiguous();
    // With a residual, the ReLU's gradient is the residual's gradient as well: made once, it is
    // batch norm's incoming gradient, ungated.
    Tensor through_relu;
    if (needs.size() > 3) {
      through_relu = relu_grad(b.g, b.y);
      b.g = through_relu;
      b.y = Tensor();
    }
    const Device device = g.device();
    const int64_t channels = b.x.size(1);
    if (needs[0]) b.gx = Tensor::empty(b.x.shape(), device);
    if (needs[1]) b.gw = Tensor::empty({channels}, device);
    if (needs[2]) b.gb = Tensor::empty({channels}, device);
    if (needs[0] || needs[1] || needs[2]) run_backward_kernel(b);
    std::vector<Tensor> grads{b.gx, b.gw, b.gb};
    if (needs.size() > 3) grads.push_back(needs[3] ? through_relu : Tensor());
    return grads;
  });
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum, float eps) {
  return batch_norm_op("batch_norm", x, Tensor(), weight, bias, running_mean, running_var, training,
                       momentum, eps, false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       float momentum, float eps) {
  return batch_norm_op("batch_norm_relu", x, Tensor(), weight, bias, running_mean, running_var,
                       training, momentum, eps, true);
}

Tensor batch_norm_add_relu(const Tensor& x, const Tensor& residual, const Tensor& weight,
                           const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, bool training, float momentum, float eps) {
  RF_CHECK(residual.defined(), "batch_norm_add_relu: the residual is undefined");
  return batch_norm_op("batch_norm_add_relu", x, residual, weight, bias, running_mean, running_var,
                       training, momentum, eps, true);
}

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, float momentum,
                       float eps, const ChannelAllreduce& allreduce_sum) {
  check_inputs(x, weight, bias, running_mean, running_var, true, eps);
  const Device device = x.device();
  const int64_t channels = x.size(1);
  BatchNormForward a;
  a.x = x.contiguous();
  a.weight = contiguous_or_undefined(weight);
  a.bias = contiguous_or_undefined(bias);
  float total = 0.0f;
  {
    NoGradGuard no_grad;
    const Tensor x3 = as_ncs(a.x);
    const Tensor first = cat(
        {channel_sums(x3), Tensor::full({1}, static_cast<float>(x3.size(0) * x3.size(2)), device)},
        0);
    allreduce_sum(first);
    total = first.at({channels});
    RF_CHECK(total > 1.0f, "sync_batch_norm: expected more than 1 value per channel over all ",
             "processes when training, got ", total, " for input ", shape_str(x.shape()));
    const Tensor mean = div(channel_part(first, channels, 0), total);
    const Tensor deviation = sub(x3, per_channel_bcast(mean));
    const Tensor second = channel_sums(mul(deviation, deviation));
    allreduce_sum(second);
    const Tensor var = div(second, total);
    // The kernels' given-statistics (eval) path normalises with the global mean and variance.
    a.running_mean = mean;
    a.running_var = var;
    a.training = false;
    a.eps = eps;
    a.y = Tensor::empty(x.shape(), device);
    a.save_mean = Tensor::empty({channels}, device);
    a.save_invstd = Tensor::empty({channels}, device);
    run_forward(a);
    if (running_mean.defined()) {
      Tensor rm = running_mean.detach(), rv = running_var.detach();
      rm.copy_(add(mul(rm, 1.0f - momentum), mul(mean, momentum)));
      rv.copy_(add(mul(rv, 1.0f - momentum), mul(var, momentum * total / (total - 1.0f))));
    }
  }

  const BatchNormBackward saved = saved_for_backward(a);
  return record(
      "sync_batch_norm", a.y, {a.x, a.weight, a.bias},
      [saved, total, allreduce_sum](const Tensor& g, const GradMask& needs) {
        BatchNormBackward b = saved;
        b.g = g.contiguous();
        const Device device = g.device();
        const int64_t channels = b.x.size(1);
        if (needs[0]) {
          // Every process reaches this point with the same mask, so they all allreduce.
          const Tensor g3 = as_ncs(b.g), x3 = as_ncs(b.x);
          const Tensor sums = cat(
              {channel_sums(g3), channel_sums(mul(g3, sub(x3, per_channel_bcast(b.save_mean))))},
              0);
          allreduce_sum(sums);
          b.mean_g = div(channel_part(sums, channels, 0), total);
          b.mean_g_xhat = div(mul(channel_part(sums, channels, 1), b.save_invstd), total);
          b.gx = Tensor::empty(b.x.shape(), device);
        }
        if (needs[1]) b.gw = Tensor::empty({channels}, device);
        if (needs[2]) b.gb = Tensor::empty({channels}, device);
        run_backward_kernel(b);
        return std::vector<Tensor>{b.gx, b.gw, b.gb};
      });
}

}  // namespace repflow::ops
